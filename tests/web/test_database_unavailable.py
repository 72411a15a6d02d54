"""The web app on a database it cannot write or reach: a plain 503 page in the site's look,
nothing internal, nothing stored or half-written, and /healthz reporting the database.

In-process: the real app under uvicorn for a SQLite file locked by a second connection
(`BEGIN IMMEDIATE`), PostgreSQL in `default_transaction_read_only`, PostgreSQL with its
tables locked, and PostgreSQL unreachable. As a process of its own: `digest serve` (web and
inbound listener) on a SQLite file made read-only by chmod.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from digest.config import Settings, load_settings
from digest.render.links import LinkMaker
from digest.send.inbound import REPLY_STORE_DOWN
from digest.store import migrations
from digest.store.engine import open_engine, transaction
from digest.store.subscribers import get_subscriber
from tests.database_faults import (
    INTERNALS,
    database_fault,
    free_port,
    snapshot,
    unprivileged,
    without_holder,
)
from tests.send.scenario import add_subscribers
from tests.send.smtpd import FaultySmtpServer
from tests.send.test_inbound_hostile import dsn
from tests.test_service import ServeProcess, wait_for
from tests.web.conftest import TEST_LIMITS, serve_site

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
FAULTS = [
    "sqlite-locked",
    pytest.param("postgres-read-only", marks=pytest.mark.postgres),
    pytest.param("postgres-locked", marks=pytest.mark.postgres),
    pytest.param("postgres-unreachable", marks=pytest.mark.postgres),
]


def csrf_token(client: httpx.Client, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text)
    assert match, f"no CSRF token on {url}"
    return match[1]


def assert_plain_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["retry-after"] == "60"
    html = response.text
    assert "Temporarily unavailable" in html
    assert "Nothing was changed" in html
    assert '<link rel="stylesheet" href="/static/site.css">' in html  # the site's own look
    for internal in (*INTERNALS, "sqlite", "postgres", "read-only", "lock"):
        assert internal.lower() not in html.lower(), internal


def a_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind.startswith("sqlite"):
        (tmp_path / "db").mkdir()
        return f"sqlite:///{tmp_path / 'db' / 'digest.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.mark.parametrize("kind", FAULTS)
def test_pages_that_write_answer_503_and_healthz_names_the_problem(
    kind: str,
    settings: Settings,
    smtp_server: FaultySmtpServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = a_database(kind, tmp_path, request)
    healthy = open_engine(url, lock_timeout=1)
    migrations.upgrade(healthy)
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": url})}
    )
    with httpx.Client(timeout=30) as client:
        # Before the fault: Ada subscribes and confirms (her welcome mail has her links);
        # Cy asks to subscribe and has his confirmation link.
        for site in serve_site(settings, healthy, smtp_server, TEST_LIMITS):
            token = csrf_token(client, f"{site.url}/")
            for email in ("ada@example.org", "cy@example.org"):
                form = {"email": email, "topics": "graphs", "csrf_token": token}
                assert client.post(f"{site.url}/subscribe", data=form).status_code == 303
            ada_confirm = site.link_in_last_mail("ada@example.org", "confirm")
            assert client.post(ada_confirm, data={"csrf_token": token}).status_code == 200
            paths = {
                kind: site.link_in_last_mail(email, kind)[len(site.url) :]
                for email, kind in (
                    ("cy@example.org", "confirm"),
                    ("ada@example.org", "preferences"),
                    ("ada@example.org", "unsubscribe"),
                )
            }
        healthy.dispose()
        mails_before = len(smtp_server.received)
        before = snapshot(url)

        with database_fault(kind, url) as fault:
            broken = open_engine(fault.url, lock_timeout=1)
            try:
                for site in serve_site(settings, broken, smtp_server, TEST_LIMITS):
                    bob = {"email": "bob@example.org", "topics": "graphs", "csrf_token": token}
                    assert_plain_503(client.post(f"{site.url}/subscribe", data=bob))
                    form = {"csrf_token": token}
                    for path in (
                        paths["confirm"],
                        paths["unsubscribe"],
                        f"{paths['preferences']}/pause",
                    ):
                        assert_plain_503(client.post(f"{site.url}{path}", data=form))
                    one_click = {"List-Unsubscribe": "One-Click"}
                    assert_plain_503(
                        client.post(f"{site.url}{paths['unsubscribe']}", data=one_click)
                    )
                    preferences = client.get(f"{site.url}{paths['preferences']}")
                    if kind in ("postgres-unreachable", "sqlite-locked"):
                        # (Every SQLite unit of work begins by taking the write lock.)
                        assert_plain_503(preferences)
                    else:  # reading still works
                        assert preferences.status_code == 200
                    health = client.get(f"{site.url}/healthz")
                    assert health.status_code == 503
                    database = health.json()["database"]
                    assert database["status"] == "error"
                    assert database["problem"] in fault.problems
                    assert "digest.sqlite3" not in health.text
            finally:
                broken.dispose()

    assert len(smtp_server.received) == mails_before
    assert without_holder(snapshot(url)) == before
    with transaction(healthy) as session:
        assert get_subscriber(session, "ada@example.org").status == "active"
        assert get_subscriber(session, "cy@example.org").status == "pending"
    healthy.dispose()


@pytest.fixture
def read_only_service(tmp_path: Path) -> Iterator[tuple[ServeProcess, Settings, str]]:
    """`digest serve` (web and inbound listener, no scheduler) on a SQLite file that was
    made read-only after migration, in a process that obeys file modes; and the VERP
    address of its one subscriber."""
    (tmp_path / "db").mkdir()
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "db" / "digest.sqlite3"}"\n'
        "lock_timeout = 1.0\n"
        '[web]\nhost = "127.0.0.1"\nport = 0\nsecret_key = "test-secret-key"\n'
        'base_url = "http://127.0.0.1:8000"\n'
        '[mail]\nfrom_address = "digest@example.org"\n'
        f'[inbound]\nhost = "127.0.0.1"\nport = {free_port()}\n'
    )
    settings = load_settings(config)
    engine = open_engine(settings.database_url)
    migrations.upgrade(engine)
    (email,) = add_subscribers(engine, 1, now=NOW)
    with transaction(engine) as session:
        verp = LinkMaker(settings).envelope_sender(get_subscriber(session, email))
    engine.dispose()
    with database_fault("sqlite-read-only", settings.database_url):
        serve = ServeProcess(config, tmp_path / "serve.log", prefix=unprivileged())
        try:
            yield serve, settings, verp
        finally:
            serve.kill()


def test_serve_on_a_read_only_sqlite_file_reads_refuses_writes_and_says_why(
    read_only_service: tuple[ServeProcess, Settings, str],
) -> None:
    serve, settings, verp = read_only_service
    base = serve.base_url()
    with httpx.Client(timeout=30) as client:
        assert client.get(f"{base}/").status_code == 200  # reading still works
        token = csrf_token(client, f"{base}/")
        form = {"email": "bob@example.org", "topics": "graphs", "csrf_token": token}
        assert_plain_503(client.post(f"{base}/subscribe", data=form))
        health = client.get(f"{base}/healthz")
    assert health.status_code == 503
    assert health.json()["database"]["problem"] == "read-only"

    def bounce_reply() -> str | None:
        try:
            with smtplib.SMTP(settings.inbound.host or "", settings.inbound.port) as smtp:
                smtp.ehlo("mx.example.net")
                smtp.mail("")
                smtp.rcpt(verp)
                code, text = smtp.data(dsn("reader0@example.org", diagnostic=b"550 5.1.1 gone"))
        except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
            return None  # the listener is not up yet
        return f"{code} {text.decode()}"

    assert wait_for(bounce_reply, "the inbound listener") == REPLY_STORE_DOWN
    assert serve.proc.poll() is None, serve.log()
    log = serve.log()
    assert "is read-only" in log
    assert "Traceback" not in log
