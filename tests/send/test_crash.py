"""Crash safety: `digest send --all` and a `digest worker`, delivering the same day through a
slow relay, are killed with SIGKILL at random points, again and again, then a last
`digest send --all` finishes the day. On SQLite and PostgreSQL.

What the SMTP server counts must show that nobody got two messages, and the ledger that
only the rows in flight at a kill ended `unknown`: at most `smtp.max_connections` plus the
one small chunk marked ahead (`LoopOptions.ahead`) per killed process; everyone else got
exactly one message.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select

from digest.send.loop import LoopOptions
from digest.store.delivery_reads import ledger_entries
from digest.store.engine import transaction
from digest.store.schema import DeliveryRow, SubscriberRow
from tests.send.scenario import add_papers, add_subscribers, write_config
from tests.send.smtpd import FaultySmtpServer

SUBSCRIBERS = 900  # enough that every round still has mail to send when its kills come
ROUNDS = 3
MAX_CONNECTIONS = 4  # as write_config sets it
IN_FLIGHT_BOUND = MAX_CONNECTIONS + LoopOptions(worker_id="-").ahead
DIGEST = (sys.executable, "-c", "from digest.cli import main; main()")


@pytest.fixture
def start() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts `digest` commands; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def run(config: Path, *args: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        process = subprocess.Popen(
            [*DIGEST, "--config", str(config), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def sending_by_owner(engine: Engine) -> dict[str, set[str]]:
    """Lease owner → addresses of the rows it has `sending`, as committed. Read by a plain
    reader: the survivor, stopped at a random moment, may hold SQLite's write lock, which
    the store's own transactions (BEGIN IMMEDIATE) would wait for until they time out."""
    query = (
        select(DeliveryRow.lease_owner, SubscriberRow.email)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .where(DeliveryRow.status == "sending")
    )
    owners: dict[str, set[str]] = {}
    reader = create_engine(engine.url)
    try:
        with reader.connect() as connection:
            for owner, email in connection.execute(query):
                owners.setdefault(owner or "", set()).add(email)
    finally:
        reader.dispose()
    return owners


def owned_by(process: subprocess.Popen[bytes], owners: dict[str, set[str]]) -> set[str]:
    prefix = f"{socket.gethostname()}:{process.pid}:"
    return {
        email for owner, emails in owners.items() if owner.startswith(prefix) for email in emails
    }


@pytest.mark.slow
def test_sigkill_of_send_and_worker_at_random_points_leaves_only_in_flight_rows_unknown(
    engine: Engine,
    smtp_server: FaultySmtpServer,
    tmp_path: Path,
    start: Callable[..., subprocess.Popen[bytes]],
) -> None:
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=6), per_topic=5)
    emails = add_subscribers(engine, SUBSCRIBERS, now=now, send_at="00:00")
    smtp_server.data_delay = 0.05
    config = write_config(tmp_path, engine, smtp_server.host, smtp_server.port, timeout=10)
    chance = random.Random(20260702)
    in_flight_at_kills: set[str] = set()
    kills = 0
    for _round in range(ROUNDS):
        before = len(smtp_server.received)
        sender = start(config, "--quiet", "send", "--all")
        worker = start(config, "worker")
        # Let mail flow, then kill both at random moments of the run, in a random order.
        target = before + chance.randint(15, 60)
        deadline = time.monotonic() + 90
        while len(smtp_server.received) < target and time.monotonic() < deadline:
            time.sleep(0.01)
        victims = [sender, worker]
        chance.shuffle(victims)
        for number, victim in enumerate(victims):
            time.sleep(chance.uniform(0, 0.3))
            # A living process takes over a dead sibling's rows (making them `unknown`) as
            # soon as it runs dry, so the survivor is paused while the victim dies and what
            # the victim had in flight is read; then it goes on.
            survivor = victims[1] if number == 0 and victims[1].poll() is None else None
            if survivor is not None:
                survivor.send_signal(signal.SIGSTOP)
            try:
                if victim.poll() is None:
                    victim.send_signal(signal.SIGKILL)
                    kills += 1
                victim.communicate(timeout=60)
                left = owned_by(victim, sending_by_owner(engine))
            finally:
                if survivor is not None:
                    survivor.send_signal(signal.SIGCONT)
            assert len(left) <= IN_FLIGHT_BOUND, (len(left), IN_FLIGHT_BOUND)
            in_flight_at_kills |= left
    assert kills >= 2 * ROUNDS - 1

    final = start(config, "send", "--all")
    output, _ = final.communicate(timeout=300)
    text = output.decode()
    assert final.returncode in (0, 3), text[-2000:]
    if "marked unknown" in text:
        assert final.returncode == 3  # it found rows a crash left in doubt

    received = Counter(smtp_server.recipients())
    assert [address for address, n in received.items() if n > 1] == []
    with transaction(engine) as session:
        rows = {entry.email: entry for entry in ledger_entries(session)}
    assert set(rows) == set(emails)
    unknown = {address for address, row in rows.items() if row.status == "unknown"}
    assert unknown <= in_flight_at_kills
    assert len(unknown) <= kills * IN_FLIGHT_BOUND
    assert all("not resent" in (rows[address].last_error or "") for address in unknown)
    delivered = set(rows) - unknown
    assert {rows[address].status for address in delivered} == {"sent"}
    assert all(received[address] == 1 for address in delivered)
