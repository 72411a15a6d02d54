"""Crash safety: `digest send --all` killed with SIGKILL at random points, then run again.

Every subscriber must end with exactly one message received by the SMTP server, or an
`unknown`/`failed` ledger row that says why; no address may receive two.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from digest.store.deliveries import ledger_entries
from digest.store.engine import transaction
from tests.send.scenario import add_papers, add_subscribers, write_config
from tests.send.smtpd import FaultySmtpServer

SUBSCRIBERS = 1000
KILLS = 3
PYTHON = (sys.executable, "-c", "from digest.cli import main; main()")


def start_send(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.Popen(
        [*PYTHON, "--config", str(config), "--quiet", "send", "--all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_at_random_points_never_sends_twice(
    engine: Engine, smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=6), per_topic=5)
    emails = add_subscribers(engine, SUBSCRIBERS, now=now, send_at="00:00")
    config = write_config(tmp_path, engine, smtp_server.host, smtp_server.port, timeout=5)
    chance = random.Random(20260701)
    kills = 0
    for _ in range(KILLS):
        before = len(smtp_server.received)
        process = start_send(config)
        # Kill only once mail is flowing, at a random point of the run.
        deadline = time.monotonic() + 60
        target = before + chance.randint(50, SUBSCRIBERS // (KILLS + 1))
        while len(smtp_server.received) < target and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=60)
    final = start_send(config)
    _out, err = final.communicate(timeout=300)
    assert final.returncode in (0, 3), err.decode()[-2000:]
    assert kills >= 2

    received = Counter(smtp_server.recipients())
    assert [a for a, n in received.items() if n > 1] == []
    with transaction(engine) as session:
        rows = {e.email: e for e in ledger_entries(session)}
    for address in emails:
        row = rows[address]
        if received[address] == 1:
            assert row.status in ("sent", "unknown"), (address, row)
        else:
            assert row.status in ("unknown", "failed"), (address, row)
            assert row.last_error
    in_doubt = sum(1 for e in rows.values() if e.status == "unknown")
    # Only what was in flight at each kill: the chunk being sent, and the one just sent
    # whose outcome was being recorded.
    assert in_doubt <= kills * 128 + 10
