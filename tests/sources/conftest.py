"""A real HTTP server on 127.0.0.1 that replays recorded responses, and quick politeness.

Tests register responses per path (`feed_server.route("/rss", Reply(...), Reply(...))`),
optionally only for requests whose query holds given parameters (`query={"date": …}`);
each request takes the next one (the last repeats). Like any web server, it answers 304
to a GET whose `If-None-Match` names the reply's `ETag`. Every request is recorded with its
headers so tests can check what the client sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from digest.pacing import Pacer
from digest.sources import http as source_http
from digest.sources.fetch import Politeness
from digest.sources.http import RetryPolicy

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Reply:
    """One recorded response: status, headers, body; `hang` never answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]


def _route_key(path: str, query: dict[str, str] | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    return path, tuple(sorted((query or {}).items()))


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, tuple[tuple[str, str], ...]], list[Reply]] = {}
        self.requests: list[Seen] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def route(self, path: str, *replies: Reply, query: dict[str, str] | None = None) -> str:
        self.routes[_route_key(path, query)] = list(replies)
        return self.url(path)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def next_reply(self, path: str, query: str = "") -> Reply:
        params = dict(parse_qsl(query))
        with self._lock:
            keys = [k for k in self.routes if k[0] == path and set(k[1]) <= set(params.items())]
            replies = self.routes[max(keys, key=lambda k: len(k[1]))] if keys else None
            if not replies:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(Seen(parts.path, parts.query, dict(self.headers)))
                reply = server.next_reply(parts.path, parts.query)
                if reply.hang:
                    server.release.wait(10)
                    return
                etag = reply.headers.get("ETag")
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    reply = Reply(304, headers={"ETag": etag})
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A replaying HTTP server on 127.0.0.1, shut down after the test."""
    server = FeedServer()
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    """The back-off waits the retry policy asked for (recorded, not slept)."""
    return []


@pytest.fixture
def politeness(sleeps: list[float]) -> Politeness:
    """Fast politeness for tests: no real back-off sleeps, a short timeout, a small cap."""

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    return Politeness(
        throttle=Pacer(0.0),
        policy=RetryPolicy(attempts=3, base_delay=0.01, max_retry_after=120, sleep=record),
        timeout=1.0,
        max_bytes=2_000_000,
    )


@pytest.fixture(autouse=True)
def _fresh_arxiv_throttle() -> None:
    """Each test starts with no arXiv slots reserved by an earlier test."""
    source_http.ARXIV_THROTTLE.reset()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
