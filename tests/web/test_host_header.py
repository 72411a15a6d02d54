"""Only the host of `web.base_url` and loopback are answered: a forged Host header gets 400,
so no redirect (such as `/static` → `/static/`) or page is ever built from it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from digest.config import Settings
from digest.send.transport import SmtpTransport
from digest.web import create_app
from tests.send.smtpd import FaultySmtpServer
from tests.web.conftest import TEST_LIMITS, ServerThread, Site

FORGED = ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil.example"]


@pytest.mark.parametrize("host", FORGED)
def test_a_forged_host_gets_400_and_no_redirect(site: Site, host: str) -> None:
    for path in ("/static", "/", "/subscribed", "/no-such-page"):
        answer = site.client.get(path, headers={"Host": host})
        assert answer.status_code == 400, (path, answer.headers)
        assert "location" not in answer.headers
        assert "evil" not in answer.text


def test_loopback_names_are_answered(site: Site) -> None:
    port = site.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", "127.0.0.1"):
        answer = site.client.get("/static", headers={"Host": host})
        assert answer.status_code == 307, host
        location = answer.headers["location"]
        assert location.split("/")[2].split(":")[0].lower() in ("127.0.0.1", "localhost")
        assert location.endswith("/static/")


@pytest.fixture
def public_site(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer
) -> Iterator[tuple[str, httpx.Client]]:
    """The app behind a public name (`https://digest.example.org`), served on 127.0.0.1."""
    settings = settings.model_copy(
        update={
            "web": settings.web.model_copy(update={"base_url": "https://digest.example.org"}),
            "smtp": settings.smtp.model_copy(
                update={"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
            ),
        }
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    transport = SmtpTransport(settings.smtp)
    app = create_app(settings, engine, transport, limits=TEST_LIMITS)
    with ServerThread(app, sock, transport), httpx.Client(base_url=url, timeout=10) as client:
        yield url, client


def test_the_public_name_of_base_url_is_answered(
    public_site: tuple[str, httpx.Client],
) -> None:
    _, client = public_site
    answer = client.get("/static", headers={"Host": "Digest.Example.org"})
    assert answer.status_code == 307
    assert answer.headers["location"].split("/")[2].lower() == "digest.example.org"
    assert client.get("/", headers={"Host": "digest.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "other.example.org"}).status_code == 400
    assert client.get("/", headers={"Host": "www.digest.example.org"}).status_code == 400
