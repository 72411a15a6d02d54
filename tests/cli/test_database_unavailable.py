"""Every writing command on a database it cannot write: the real `digest` in a subprocess.

SQLite made read-only by chmod (the file, then its directory too), SQLite locked by a second
connection holding `BEGIN IMMEDIATE` past the lock timeout, PostgreSQL in
`default_transaction_read_only`, PostgreSQL with its tables locked by another session, and
PostgreSQL unreachable. Each time: one line on stderr naming the problem and the fix, exit 4,
nothing internal printed, and every row stored before is still there, unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import load_settings
from digest.records import FeedEntry
from digest.store import migrations
from digest.store.engine import open_engine, transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.suppressions import suppress_addresses
from tests.database_faults import (
    INTERNALS,
    POSTGRES_FAULTS,
    SQLITE_FAULTS,
    Fault,
    database_fault,
    snapshot,
    unprivileged,
    without_holder,
)
from tests.sources.conftest import FIXTURES, FeedServer, Reply

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
DIGEST = str(Path(sys.executable).with_name("digest"))

# Every command that writes, with arguments that would succeed on a healthy database.
WRITERS: dict[str, list[str]] = {
    "subscribers add": ["subscribers", "add", "new@example.org", "--topic", "gnn", "--confirmed"],
    "subscribers update": ["subscribers", "update", "ada@example.org", "--topic", "proteins"],
    "subscribers pause": ["subscribers", "pause", "ada@example.org"],
    "subscribers resume": ["subscribers", "resume", "bob@example.org"],
    "subscribers remove": ["subscribers", "remove", "ada@example.org"],
    "subscribers import": ["subscribers", "import", "{tmp}/import.csv"],
    "suppressions add": ["suppressions", "add", "carol@example.org"],
    "suppressions remove": ["suppressions", "remove", "gone@example.org"],
    "erase": ["erase", "ada@example.org", "--yes"],
    "send": ["send", "--all"],
    "fetch": ["fetch"],
    "demo": ["demo"],
}
# Every writing command meets a read-only SQLite file; the other faults meet a few of them
# (each run starts the whole CLI, which costs seconds on a busy machine).
SOME_COMMANDS = {
    "sqlite-read-only": tuple(WRITERS),
    "postgres-read-only": ("subscribers add", "subscribers import", "send", "fetch"),
}
FEW_COMMANDS = ("subscribers add", "send")


def _cases() -> Iterator[object]:
    for kind in SQLITE_FAULTS + POSTGRES_FAULTS:
        marks = [pytest.mark.postgres] if kind.startswith("postgres") else []
        for name in SOME_COMMANDS.get(kind, FEW_COMMANDS):
            yield pytest.param(kind, name, marks=marks, id=f"{kind}:{name}")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.server.daemon_threads = True
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def stored_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A migrated database with subscribers, a suppression and a day of papers."""
    if kind.startswith("sqlite"):
        (tmp_path / "db").mkdir()
        url = f"sqlite:///{tmp_path / 'db' / 'digest.sqlite3'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    engine = open_engine(url)
    try:
        migrations.upgrade(engine)
        with transaction(engine) as session:
            for email, status in (("ada@example.org", "active"), ("bob@example.org", "paused")):
                upsert_subscriber(
                    session,
                    SubscriberInput(
                        email=email, topics=("speculative decoding",), status=status
                    ).validate(),
                    default_timezone="UTC",
                    default_send_at="07:00",
                    now=NOW,
                )
            suppress_addresses(session, [("gone@example.org", "hard bounce")], source="bounce")
            ingest_entries(
                session,
                [FeedEntry(source="test", key="2607.00001", title="Speculative decoding")],
                now=NOW,
            )
    finally:
        engine.dispose()
    return url


def write_config(tmp_path: Path, url: str, feed_url: str) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "{url}"\nlock_timeout = 1.0\n'
        '[web]\nsecret_key = "test-secret-key"\n'
        '[mail]\nfrom_address = "digest@example.org"\n'
        f'[[sources]]\nname = "local"\nkind = "rss"\nurl = "{feed_url}"\nevery = "1h"\n'
    )
    load_settings(config)  # the file itself must be valid
    return config


def run_digest(fault: Fault, config: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    prefix = unprivileged() if fault.unprivileged else []
    return subprocess.run(
        [*prefix, DIGEST, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(("kind", "command"), list(_cases()))
def test_a_writing_command_says_what_is_wrong_and_changes_nothing(
    kind: str,
    command: str,
    tmp_path: Path,
    feed_server: FeedServer,
    request: pytest.FixtureRequest,
) -> None:
    url = stored_database(kind, tmp_path, request)
    feed = feed_server.route(
        "/feed", Reply(200, (FIXTURES / "arxiv_rss2_cs.CL.xml").read_bytes(), {})
    )
    (tmp_path / "import.csv").write_text(
        "email,topics,categories,authors,exclude,timezone,send_at,status\n"
        "dora@example.org,compilers,,,,UTC,07:00,active\n"
    )
    (tmp_path / "data").mkdir()
    before = snapshot(url)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in WRITERS[command]]

    with database_fault(kind, url) as fault:
        config = write_config(tmp_path, fault.url, feed)
        result = run_digest(fault, config, args)

    assert result.returncode == 4, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("Error: ")
    assert fault.names_problem_and_fix(line), line
    for internal in INTERNALS:
        assert internal not in result.stderr + result.stdout, result.stderr
    assert without_holder(snapshot(url)) == before


def test_check_reports_a_read_only_database_and_what_to_do(
    tmp_path: Path, feed_server: FeedServer, request: pytest.FixtureRequest
) -> None:
    url = stored_database("sqlite-read-only", tmp_path, request)
    (tmp_path / "data").mkdir()
    with database_fault("sqlite-read-only", url) as fault:
        config = write_config(tmp_path, fault.url, feed_server.url("/feed"))
        result = run_digest(fault, config, ["check"])
    assert result.returncode == 2, result
    database = next(line for line in result.stdout.splitlines() if "database" in line)
    assert "read-only" in database
    assert "write access" in result.stdout
    for internal in INTERNALS:
        assert internal not in result.stdout + result.stderr


def test_a_file_that_is_not_a_database_is_named_damaged(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    broken = tmp_path / "db" / "digest.sqlite3"
    broken.write_bytes(b"this is not a SQLite file\n" * 400)
    config = write_config(tmp_path, f"sqlite:///{broken}", "http://127.0.0.1:9/feed")
    healthy = Fault("none", "", set())
    for args in (["subscribers", "list"], ["subscribers", "add", "a@example.org", "--topic", "x"]):
        result = run_digest(healthy, config, args)
        assert result.returncode == 4, result
        (line,) = result.stderr.splitlines()
        assert "is damaged" in line
        assert "restore the database from a backup" in line
    assert broken.read_bytes() == b"this is not a SQLite file\n" * 400


def test_upgrading_a_read_only_database_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    url = f"sqlite:///{tmp_path / 'db' / 'digest.sqlite3'}"
    engine = open_engine(url)
    try:
        migrations.upgrade(engine, "0001")  # a database one or more migrations behind
    finally:
        engine.dispose()
    before = snapshot_revision(url)
    with database_fault("sqlite-read-only", url) as fault:
        config = write_config(tmp_path, fault.url, "http://127.0.0.1:9/feed")
        result = run_digest(fault, config, ["db", "upgrade"])
    assert result.returncode == 4, result
    (line,) = result.stderr.splitlines()
    assert fault.names_problem_and_fix(line), line
    assert snapshot_revision(url) == before == "0001"


def snapshot_revision(url: str) -> str | None:
    engine = open_engine(url)
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()
