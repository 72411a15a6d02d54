"""Helper processes rank and render exactly what the delivering process would, and never
outlive it."""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine

from digest.config import Settings
from digest.pipeline.preparers import (
    PROCESS_THRESHOLD,
    ProcessPreparer,
    ThreadPreparer,
    preparer_for,
)
from digest.records import Claim, Prepared
from digest.send.due import due_groups
from digest.store import queueing
from digest.store.deliveries import claim_deliveries
from digest.store.engine import transaction
from tests.send.scenario import add_papers, add_subscribers

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def claims(engine: Engine) -> list[Claim]:
    add_papers(engine, NOW - timedelta(hours=12))
    add_subscribers(engine, 6, now=NOW)
    add_subscribers(engine, 2, now=NOW, topic="gaussian splatting", prefix="vision")
    add_subscribers(engine, 1, now=NOW, topic="medieval poetry", prefix="poet")
    with transaction(engine) as session:
        due = due_groups(queueing.send_groups(session), NOW)
        queueing.queue_due(session, due, now=NOW)
    with transaction(engine) as session:
        return claim_deliveries(
            session, worker_id="test", now=NOW, lease_until=NOW + timedelta(hours=1), limit=50
        )


def readable(prepared: Prepared) -> tuple[object, ...]:
    """What a reader gets, without what differs on every render (ids, tokens, boundary)."""
    if prepared.email is None:
        return (prepared.claim.delivery_id, prepared.status, prepared.skip_reason)
    message = email.message_from_bytes(prepared.email.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    assert text is not None
    body = re.sub(r"https?://\S+", "<link>", text.get_content())
    return (
        prepared.claim.delivery_id,
        prepared.email.to,
        message["Subject"],
        message["List-Id"],
        prepared.items,
        body,
    )


def test_helper_processes_prepare_what_the_delivering_process_prepares(
    engine: Engine, settings: Settings
) -> None:
    batch = claims(engine)
    here = ThreadPreparer(settings, engine, now=NOW).prepare(batch)
    with ProcessPreparer(settings, now=NOW, processes=2) as helpers:
        first = helpers.prepare(batch[:5])
        rest = helpers.prepare(batch[5:])
    assert len(here) == 9
    assert sum(p.email is not None for p in here) == 8  # the poet gets nothing today
    assert [readable(p) for p in first + rest] == [readable(p) for p in here]


def test_small_runs_stay_in_the_delivering_process(engine: Engine, settings: Settings) -> None:
    small = preparer_for(settings, engine, now=NOW, rows=PROCESS_THRESHOLD - 1)
    assert type(small) is ThreadPreparer
    off = settings.model_copy(
        update={"digest": settings.digest.model_copy(update={"render_processes": 0})}
    )
    assert type(preparer_for(off, engine, now=NOW, rows=10 * PROCESS_THRESHOLD)) is ThreadPreparer
    large = preparer_for(settings, engine, now=NOW, rows=PROCESS_THRESHOLD)
    try:
        assert isinstance(large, ProcessPreparer)
        assert large.parallel == 2 * settings.digest.render_processes  # one queued each
    finally:
        large.close()


PARENT = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from digest.config import load_settings
    from digest.pipeline.preparers import ProcessPreparer

    settings = load_settings(service={"data_dir": sys.argv[1]}, database={"url": sys.argv[2]})
    preparer = ProcessPreparer(settings, now=datetime.now(UTC), processes=2)
    preparer.prepare([])
    print("ready", flush=True)
    time.sleep(600)
    """
)


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_helpers_exit_when_the_delivering_process_is_killed(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "data"), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        helpers = [int(pid) for pid in children if b"spawn_main" in command_line(int(pid))]
        assert helpers
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in helpers if alive(pid)] == []
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
