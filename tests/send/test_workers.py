"""Scale-out: `digest worker` processes on one PostgreSQL database.

Every subscriber gets exactly one message however the rows are shared out. When one
worker is killed (SIGKILL) in the middle of an SMTP transaction, the others finish the day:
its in-flight rows end `unknown` and are not resent, the rows it had leased but not started
are delivered by the survivors, and no address receives two messages. Workers that cannot
see each other's processes rely on leases alone: a living worker's heartbeat keeps its rows,
a dead one's return to the queue once its leases run out.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from digest.send.loop import LoopOptions
from digest.store import migrations
from digest.store.deliveries import LEASE_SECONDS
from digest.store.delivery_reads import LedgerEntry, ledger_entries
from digest.store.engine import open_engine, transaction
from digest.store.schema import DeliveryRow, SubscriberRow
from tests.send.scenario import TOPICS, add_papers, add_subscribers, write_config
from tests.send.smtpd import FaultPlan, FaultySmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 3
PER_TOPIC = 750  # 4 topics: 3,000 subscribers
FINAL = frozenset({"sent", "skipped", "failed", "unknown"})
DIGEST = (sys.executable, "-c", "from digest.cli import main; main()")
WAIT = 120.0  # only a bound for a hung run; each test normally needs well under a minute


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database with one day's papers and 3,000 due subscribers."""
    engine = open_engine(pg_url)
    migrations.upgrade(engine)
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=6), per_topic=5)
    for number, (topic, _title) in enumerate(TOPICS):
        add_subscribers(
            engine, PER_TOPIC, now=now, topic=topic, send_at="00:00", prefix=f"t{number}reader"
        )
    yield engine
    engine.dispose()


class Workers:
    """`digest worker` processes, each logging to its own file."""

    def __init__(self, config: Path, count: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        self.logs = [config.parent / f"worker{n}.log" for n in range(count)]
        self.processes = []
        for log in self.logs:
            with log.open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        [*DIGEST, "--config", str(config), "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-1500:]}" for log in self.logs)

    def stop(self) -> list[int | None]:
        """SIGTERM to the living; every exit code (-9 for a killed one)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=60) for process in self.processes]

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_for(condition: Callable[[], Any], what: str, workers: Workers) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{workers.output()}")


def ledger(engine: Engine) -> dict[str, LedgerEntry]:
    with transaction(engine) as session:
        return {entry.email: entry for entry in ledger_entries(session)}


def all_final(engine: Engine, expected: int) -> bool:
    rows = ledger(engine)
    return len(rows) == expected and all(row.status in FINAL for row in rows.values())


def leases_in_sending(engine: Engine, *, emails: Collection[str] = ()) -> dict[str, str]:
    """Address → lease owner of every row being sent now (only `emails`, if given)."""
    query = (
        select(SubscriberRow.email, DeliveryRow.lease_owner)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .where(DeliveryRow.status == "sending")
    )
    if emails:
        query = query.where(SubscriberRow.email.in_(list(emails)))
    with transaction(engine) as session:
        return {email: owner or "" for email, owner in session.execute(query)}


def subscriber_count(engine: Engine) -> int:
    with transaction(engine) as session:
        return len(list(session.scalars(select(SubscriberRow.id))))


def owner_pid(owner: str) -> int:
    host, pid, _nonce = owner.split(":")
    assert host == socket.gethostname()
    return int(pid)


def test_three_workers_share_the_day_and_each_subscriber_gets_one_message(
    pg_engine: Engine, smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    expected = subscriber_count(pg_engine)
    workers = Workers(
        write_config(tmp_path, pg_engine, smtp_server.host, smtp_server.port, timeout=60), WORKERS
    )
    try:
        wait_for(lambda: all_final(pg_engine, expected), "every row to be final", workers)
        codes = workers.stop()
    finally:
        workers.kill_all()
    assert codes == [0] * WORKERS, workers.output()

    received = Counter(smtp_server.recipients())
    rows = ledger(pg_engine)
    assert len(rows) == expected == 3000
    assert {row.status for row in rows.values()} == {"sent"}
    assert received == Counter(dict.fromkeys(rows, 1))
    assert "delivery tick" in workers.output()


def test_a_killed_worker_leaves_only_its_in_flight_rows_unknown(
    pg_engine: Engine, smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    expected = subscriber_count(pg_engine)
    # The server never answers this one message, so whichever worker sends it stays in
    # the middle of that SMTP transaction: the moment the test kills it. It is among the
    # first rows claimed, so most of the day is still ahead for the survivors.
    stuck = "t0reader100@example.org"
    smtp_server.plan = FaultPlan(hang_at="data", for_addresses=frozenset({stuck}))
    workers = Workers(
        write_config(tmp_path, pg_engine, smtp_server.host, smtp_server.port, timeout=60), WORKERS
    )
    try:
        owner = wait_for(
            lambda: leases_in_sending(pg_engine, emails=[stuck]).get(stuck),
            "the stuck message to be in flight",
            workers,
        )
        victim = next(p for p in workers.processes if p.pid == owner_pid(owner))
        victim.kill()
        victim.wait()
        in_flight = {a for a, o in leases_in_sending(pg_engine).items() if o == owner}
        wait_for(lambda: all_final(pg_engine, expected), "the others to finish", workers)
        codes = workers.stop()
    finally:
        workers.kill_all()

    assert Counter(codes) == Counter({0: WORKERS - 1, -signal.SIGKILL: 1}), workers.output()
    received = Counter(smtp_server.recipients())
    rows = ledger(pg_engine)
    assert len(rows) == expected
    assert [address for address, n in received.items() if n > 1] == []
    assert stuck in in_flight
    # At most the messages on its connections (smtp.max_connections = 4 in write_config)
    # and the one small chunk marked ahead.
    assert len(in_flight) <= 4 + LoopOptions(worker_id="-").ahead
    unknown = {address for address, row in rows.items() if row.status == "unknown"}
    assert unknown == in_flight
    assert all("not resent" in (rows[address].last_error or "") for address in unknown)
    assert received[stuck] == 0
    everyone_else = set(rows) - unknown
    assert {rows[address].status for address in everyone_else} == {"sent"}
    assert all(received[address] == 1 for address in everyone_else)


def leases_of(engine: Engine, owner: str) -> list[tuple[str, datetime | None]]:
    """(status, lease expiry) of every row `owner` holds."""
    query = select(DeliveryRow.status, DeliveryRow.lease_expires_at).where(
        DeliveryRow.lease_owner == owner
    )
    with transaction(engine) as session:
        return [(status, expires) for status, expires in session.execute(query)]


def test_a_dead_workers_rows_return_within_a_lease_on_any_host(
    pg_url: str, smtp_server: FaultySmtpServer, tmp_path: Path
) -> None:
    """Two workers that cannot see each other's processes (named as if on two hosts). While
    one lives, its heartbeat keeps its rows its own, even stuck for longer than a lease;
    killed (and left a zombie), its rows go back to the queue once its leases run out and
    the other delivers them, leaving only the message it had in flight `unknown`."""
    engine = open_engine(pg_url)
    migrations.upgrade(engine)
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=6), per_topic=5)
    emails = add_subscribers(engine, 300, now=now, send_at="00:00")
    stuck = emails[0]  # the first row the first worker sends: it never gets an answer
    smtp_server.plan = FaultPlan(hang_at="data", for_addresses=frozenset({stuck}))
    config = write_config(
        tmp_path, engine, smtp_server.host, smtp_server.port, timeout=600, max_connections=1
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    host_a, host_b = "host-a.example:101:aaaaaa", "host-b.example:202:bbbbbb"

    def worker(name: str) -> subprocess.Popen[bytes]:
        command = [*DIGEST, "--config", str(config), "worker", "--id", name]
        with (tmp_path / f"{name.split('.')[0]}.log").open("wb") as log:
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    first = worker(host_a)
    second: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + WAIT
        while leases_in_sending(engine, emails=[stuck]).get(stuck) != host_a:
            assert time.monotonic() < deadline, "the first worker never sent"
            time.sleep(0.1)
        second = worker(host_b)
        held = leases_of(engine, host_a)
        assert len(held) > 1  # the stuck message and the rest of its batch
        time.sleep(LEASE_SECONDS + 10)  # longer than a lease: only the heartbeat keeps them
        renewed = leases_of(engine, host_a)
        assert len(renewed) == len(held)
        assert all(expires and expires > datetime.now(UTC) for _, expires in renewed)
        assert smtp_server.recipients().count(stuck) == 0

        in_flight = {a for a, o in leases_in_sending(engine).items() if o == host_a}
        first.kill()  # not reaped: a zombie until the end of the test
        killed_at = datetime.now(UTC)
        time.sleep(LEASE_SECONDS + 5)
        queued = [expires for status, expires in leases_of(engine, host_a) if status != "sending"]
        assert all(expires and expires < datetime.now(UTC) for expires in queued)
        # The other worker's next tick (one a minute) takes them over.
        while not all_final(engine, len(emails)):
            assert datetime.now(UTC) < killed_at + timedelta(seconds=LEASE_SECONDS + 90)
            time.sleep(0.5)
        received = Counter(smtp_server.recipients())
        rows = ledger(engine)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.wait()
        engine.dispose()
    # In doubt: the stuck message, and any row marked just ahead of it (one connection).
    assert stuck in in_flight
    assert len(in_flight) <= 1 + LoopOptions(worker_id="-").ahead
    assert {address for address, row in rows.items() if row.status == "unknown"} == in_flight
    assert all(received[address] == 0 for address in in_flight)
    assert all(received[address] == 1 for address in emails if address not in in_flight)
    assert {rows[address].status for address in emails if address not in in_flight} == {"sent"}
