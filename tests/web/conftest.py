"""Fixtures for the web tests: the app served by a real uvicorn on 127.0.0.1, mail going to a
real aiosmtpd server through the real SMTP transport, and helpers to follow the emails."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from digest.config import Settings
from digest.send.transport import SmtpTransport
from digest.web import create_app
from digest.web.guard import Limit, WebLimits
from tests.send.smtpd import FaultySmtpServer, running_server

# Generous limits so ordinary tests never trip them; the limit tests pass their own.
TEST_LIMITS = WebLimits(
    requests_per_ip=Limit(10_000, 60),
    signups_per_ip=Limit(1_000, 3600),
    signups_per_address=Limit(1_000, 3600),
)


class ServerThread:
    """uvicorn serving an app on an already bound socket, in a background thread."""

    def __init__(self, app: object, sock: socket.socket, transport: SmtpTransport) -> None:
        self.transport = transport
        # Logging left as the service leaves it (no log_config, no log_level): either would
        # change uvicorn's loggers for every later test in the process.
        config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            try:
                await self.server.serve(sockets=[self.sock])
            finally:
                await self.transport.close()  # in the loop that opened its connections

        asyncio.run(serve())

    def __enter__(self) -> ServerThread:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@dataclass
class Site:
    """A running site: its URL, settings, database, an HTTP client and the mail it sent."""

    url: str
    settings: Settings
    engine: Engine
    client: httpx.Client
    smtp: FaultySmtpServer

    def messages_to(self, address: str) -> list[Message]:
        return [
            email.message_from_bytes(r.data) for r in self.smtp.received if r.rcpt_to == address
        ]

    def link_in_last_mail(self, address: str, path: str) -> str:
        """The first `{url}/{path}/…` link in the latest message to `address`."""
        messages = self.messages_to(address)
        assert messages, f"no mail reached {address}"
        text = plain_text(messages[-1])
        match = re.search(re.escape(self.url) + "/" + path + r"/[A-Za-z0-9_.\-]+", text)
        assert match, f"no /{path}/ link in the mail to {address}"
        return match[0]

    def csrf_token(self, path: str = "/") -> str:
        page = self.client.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match[1]


def plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("the message has no text/plain part")


def serve_site(
    settings: Settings, engine: Engine, smtp: FaultySmtpServer, limits: WebLimits
) -> Iterator[Site]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings.model_copy(
        update={
            "web": settings.web.model_copy(update={"base_url": url}),
            "smtp": settings.smtp.model_copy(
                update={"host": smtp.host, "port": smtp.port, "security": "none", "timeout": 5}
            ),
        }
    )
    transport = SmtpTransport(settings.smtp)
    app = create_app(settings, engine, transport, limits=limits)
    with ServerThread(app, sock, transport), httpx.Client(base_url=url, timeout=10) as client:
        yield Site(url, settings, engine, client, smtp)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite for most web tests (the store tests cover both back ends); a test that walks
    a whole flow also runs on PostgreSQL with `@both_databases`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


both_databases = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def smtp_server() -> Iterator[FaultySmtpServer]:
    """A real SMTP server on 127.0.0.1 that records every message it accepts."""
    with running_server() as server:
        yield server


@pytest.fixture
def site(settings: Settings, engine: Engine, smtp_server: FaultySmtpServer) -> Iterator[Site]:
    """The web app on a real uvicorn at 127.0.0.1, mailing through real SMTP."""
    yield from serve_site(settings, engine, smtp_server, TEST_LIMITS)
