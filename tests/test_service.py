"""`digest serve` as an operator runs it: a real subprocess, a local feed server, a local SMTP
server, systemd's notification socket, and SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from digest.rank.embed import Embedder
from digest.records import Subscriber
from digest.store.engine import open_engine, transaction
from digest.store.subscribers import get_subscriber
from digest.tokens import make_token
from tests.conftest import assert_papers_embedded

pytestmark = pytest.mark.slow

FEED = "arxiv_rss_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
SECRET = "e2e-secret-key-never-logged"
WAIT = 60.0


class FeedServer:
    """Serves one recorded feed file at /feed over HTTP on 127.0.0.1."""

    def __init__(self, body: bytes) -> None:
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class MailSink:
    """A real aiosmtpd SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[Message] = []
        self.delay = delay
        self.data_started = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.data_started.set()
        await asyncio.sleep(self.delay)  # a slow server: the message stays in flight a while
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def __enter__(self) -> MailSink:
        self.thread.start()
        server = asyncio.run_coroutine_threadsafe(
            self.loop.create_server(lambda: SMTP(self, hostname="sink.localhost"), "127.0.0.1", 0),
            self.loop,
        ).result(10)
        self.server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


class ServeProcess:
    """`digest --config FILE serve` as a subprocess, its log in a file."""

    def __init__(
        self,
        config: Path,
        log: Path,
        env: dict[str, str] | None = None,
        *,
        prefix: Sequence[str] = (),
    ) -> None:
        digest = Path(sys.executable).with_name("digest")
        self.log_path = log
        self.handle = log.open("ab")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        environ.pop("NOTIFY_SOCKET", None)
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [*prefix, str(digest), "--config", str(config), "serve"],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=environ,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def base_url(self) -> str:
        def found() -> str | None:
            assert self.proc.poll() is None, f"serve exited early:\n{self.log()}"
            match = re.search(r"web listening address=(http://\S+)", self.log())
            return match[1] if match else None

        return str(wait_for(found, "the web server to listen"))

    def stop(self) -> int:
        """SIGTERM; the exit status (the process must end within 30 s)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.handle.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.handle.close()


def local_send_setup() -> tuple[str, str]:
    """A time zone and a HH:MM send time two minutes ago there (never across midnight)."""
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        local = datetime.now(UTC).astimezone(ZoneInfo(zone))
        if 1 <= local.hour <= 22:
            return zone, (local - timedelta(minutes=2)).strftime("%H:%M")
    raise AssertionError("unreachable: one of the zones is away from midnight")


@pytest.fixture
def service_config(tmp_path: Path) -> Callable[..., Path]:
    def write(feed_url: str, smtp_port: int, smtp_extra: str = "") -> Path:
        path = tmp_path / "digest.toml"
        path.write_text(
            f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[database]\nurl = "sqlite:///{tmp_path / "digest.sqlite3"}"\n'
            f'[web]\nhost = "127.0.0.1"\nport = 0\nsecret_key = "{SECRET}"\n'
            'base_url = "http://127.0.0.1:8000"\n'
            '[mail]\nfrom_address = "digest@example.org"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n{smtp_extra}'
            f'[[sources]]\nname = "arxiv-ai"\nkind = "arxiv-rss"\nurl = "{feed_url}"\n'
            'every = "6h"\n'
        )
        return path

    return write


@pytest.fixture
def feed(shared_data: Path) -> Iterator[FeedServer]:
    with FeedServer((shared_data / "raw" / FEED).read_bytes()) as server:
        yield server


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


def add_subscriber(
    run_cli: Callable[..., Any], config: Path, address: str = "ada@example.org"
) -> str:
    zone, send_at = local_send_setup()
    assert run_cli("--config", str(config), "db", "upgrade").code == 0
    result = run_cli(
        "--config", str(config), "subscribers", "add", address,
        "--topic", "large language models", "--topic", "transformer",
        "--timezone", zone, "--send-at", send_at, "--confirmed",
    )  # fmt: skip
    assert result.code == 0, result
    return address


def last_tick(base_url: str) -> str | None:
    try:
        body = httpx.get(f"{base_url}/healthz", timeout=5).json()
    except httpx.HTTPError:
        return None
    return cast("str | None", body.get("delivery", {}).get("last_tick"))


def test_serve_delivers_a_due_digest_stops_on_sigterm_and_never_sends_it_twice(
    tmp_path: Path,
    feed: FeedServer,
    mail_sink: MailSink,
    service_config: Callable[..., Path],
    run_cli: Callable[..., Any],
    embedder: Embedder,
) -> None:
    config = service_config(feed.url, mail_sink.port)
    address = add_subscriber(run_cli, config)

    first = ServeProcess(config, tmp_path / "serve-1.log")
    try:
        wait_for(lambda: mail_sink.messages, "the digest to reach the SMTP server")
        assert first.stop() == 0, first.log()
    finally:
        first.kill()
    [digest] = mail_sink.messages
    assert digest["To"] == address
    assert feed.requests >= 1
    log = first.log()
    assert "Traceback" not in log
    # The scheduled fetch stored the papers with their sentence vectors.
    assert "embedded" in log
    engine = open_engine(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    try:
        assert_papers_embedded(engine, embedder, candidates_only=True)
    finally:
        engine.dispose()
    assert SECRET not in log
    assert all(
        re.match(r"^\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ", line)
        for line in log.splitlines()
    )

    second = ServeProcess(config, tmp_path / "serve-2.log")
    try:
        base = second.base_url()
        wait_for(lambda: last_tick(base), "a delivery tick after the restart")
        assert second.stop() == 0, second.log()
    finally:
        second.kill()
    assert len(mail_sink.messages) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ready_means_web_and_inbound_mail_listen_and_stopping_follows_sigterm(
    tmp_path: Path,
    feed: FeedServer,
    mail_sink: MailSink,
    service_config: Callable[..., Path],
    run_cli: Callable[..., Any],
) -> None:
    inbound = free_port()
    config = service_config(feed.url, mail_sink.port)
    config.write_text(config.read_text() + f'[inbound]\nhost = "127.0.0.1"\nport = {inbound}\n')
    address = add_subscriber(run_cli, config)
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(WAIT)
        serve = ServeProcess(config, tmp_path / "serve.log", {"NOTIFY_SOCKET": str(path)})
        try:
            ready = sock.recv(4096).decode()
            assert "READY=1" in ready.splitlines()
            assert f"MAINPID={serve.proc.pid}" in ready.splitlines()
            assert "1 active subscribers" in ready
            unsubscribe_by_mail(inbound, stored(tmp_path / "digest.sqlite3", address))
            assert serve.stop() == 0, serve.log()
            notices: list[str] = []
            sock.settimeout(1)
            while not any("STOPPING=1" in n for n in notices):
                notices.append(sock.recv(4096).decode())
        finally:
            serve.kill()
    result = run_cli("--config", str(config), "subscribers", "show", address)
    assert json.loads(result.out)["status"] == "unsubscribed"


def stored(database: Path, address: str) -> Subscriber:
    engine = open_engine(f"sqlite:///{database}")
    try:
        with transaction(engine) as session:
            return get_subscriber(session, address)
    finally:
        engine.dispose()


def unsubscribe_by_mail(port: int, subscriber: Subscriber) -> None:
    """What a mail client does with the List-Unsubscribe mailto: link."""
    token = make_token(SECRET, "unsubscribe", subscriber)
    address = subscriber.email
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        client.sendmail(
            address, [f"unsubscribe+{token}@example.org"], b"Subject: unsubscribe\r\n\r\n"
        )
    with (
        smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.sendmail(address, ["unsubscribe+forged@example.org"], b"\r\n")


def run_digest(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    digest = Path(sys.executable).with_name("digest")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.run(
        [str(digest), "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=WAIT,
        check=False,
    )


def test_a_busy_web_port_is_one_clear_line_and_exit_2(
    feed: FeedServer, mail_sink: MailSink, service_config: Callable[..., Path]
) -> None:
    config = service_config(feed.url, mail_sink.port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_digest(config, "serve", "--port", str(port))
    assert result.returncode == 2, result
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_with_nothing_to_run_is_a_usage_error(
    feed: FeedServer, mail_sink: MailSink, service_config: Callable[..., Path]
) -> None:
    config = service_config(feed.url, mail_sink.port)
    result = run_digest(config, "serve", "--no-web", "--no-scheduler")
    assert result.returncode == 2
    assert "nothing to run" in result.stderr


def test_sigterm_finishes_the_messages_in_flight_and_a_restart_sends_the_rest_once(
    tmp_path: Path,
    feed: FeedServer,
    service_config: Callable[..., Path],
    run_cli: Callable[..., Any],
) -> None:
    with MailSink(delay=1.0) as slow_sink:
        config = service_config(feed.url, slow_sink.port, "max_connections = 1\n")
        addresses = {add_subscriber(run_cli, config, f"reader{n}@example.org") for n in range(3)}
        first = ServeProcess(config, tmp_path / "serve-1.log")
        try:
            wait_for(slow_sink.data_started.is_set, "the first message to be in flight")
            assert first.stop() == 0, first.log()
        finally:
            first.kill()
        assert slow_sink.messages  # the message in flight was finished, not dropped

        slow_sink.delay = 0.0
        second = ServeProcess(config, tmp_path / "serve-2.log")
        try:
            base = second.base_url()
            wait_for(lambda: last_tick(base), "a delivery tick after the restart")
            assert second.stop() == 0, second.log()
        finally:
            second.kill()
    # Whatever was left queued went out after the restart; nobody got a second copy.
    assert sorted(m["To"] for m in slow_sink.messages) == sorted(addresses)


def test_a_worker_only_delivers_and_stops_cleanly(
    tmp_path: Path,
    feed: FeedServer,
    mail_sink: MailSink,
    service_config: Callable[..., Path],
    run_cli: Callable[..., Any],
) -> None:
    config = service_config(feed.url, mail_sink.port)
    address = add_subscriber(run_cli, config)
    assert run_cli("--config", str(config), "fetch").code == 0
    fetched = feed.requests
    digest = Path(sys.executable).with_name("digest")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(digest), "--config", str(config), "worker"], stdout=out, stderr=out
        )
        try:
            wait_for(lambda: mail_sink.messages, "the worker to deliver the digest")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
    assert [m["To"] for m in mail_sink.messages] == [address]
    assert feed.requests == fetched  # a worker never fetches
    assert "web listening" not in log.read_text()
