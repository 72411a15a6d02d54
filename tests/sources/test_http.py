"""Polite HTTP against a real server on 127.0.0.1: validators, back-off, caps, timeouts."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import httpx
import pytest

from digest.errors import SourceError
from digest.pacing import Pacer
from digest.sources.fetch import Politeness
from digest.sources.http import (
    Fetched,
    RateLimited,
    Request,
    Validators,
    get,
    parse_retry_after,
)
from tests.sources.conftest import FeedServer, Reply


def fetch(request: Request, politeness: Politeness) -> Fetched:
    async def run() -> Fetched:
        async with httpx.AsyncClient() as client:
            return await get(client, request, politeness.policy)

    return asyncio.run(run())


def request(url: str, politeness: Politeness, **kwargs: object) -> Request:
    built = Request(url=url, timeout=politeness.timeout, max_bytes=politeness.max_bytes)
    for name, value in kwargs.items():
        setattr(built, name, value)
    return built


def test_conditional_get_sends_validators_and_304_is_success(
    feed_server: FeedServer, politeness: Politeness
) -> None:
    url = feed_server.route(
        "/feed",
        Reply(200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Wed, 20 Aug 2025 04:00:00 GMT"}),
        Reply(304),
    )
    first = fetch(request(url, politeness, contact="ops@example.org"), politeness)
    assert first.status == 200
    assert first.validators == Validators('"v1"', "Wed, 20 Aug 2025 04:00:00 GMT")
    second = fetch(request(url, politeness, validators=first.validators), politeness)
    assert second.not_modified
    sent = feed_server.seen("/feed")
    assert "If-None-Match" not in sent[0].headers
    assert sent[1].headers["If-None-Match"] == '"v1"'
    assert sent[1].headers["If-Modified-Since"] == "Wed, 20 Aug 2025 04:00:00 GMT"
    assert sent[0].headers["User-Agent"].startswith("PaperDigest/")
    assert "mailto:ops@example.org" in sent[0].headers["User-Agent"]


def test_429_retry_after_is_honoured(
    feed_server: FeedServer, politeness: Politeness, sleeps: list[float]
) -> None:
    url = feed_server.route(
        "/busy", Reply(429, b"slow down", {"Retry-After": "7"}), Reply(200, b"ok")
    )
    assert fetch(request(url, politeness), politeness).body == b"ok"
    assert len(sleeps) == 1
    assert 7 <= sleeps[0] <= 8


def test_5xx_backs_off_with_growing_waits_then_gives_up(
    feed_server: FeedServer, politeness: Politeness, sleeps: list[float]
) -> None:
    url = feed_server.route("/down", Reply(503, b"down"))
    with pytest.raises(SourceError, match=r"HTTP 503 \(gave up after 3 attempts\)"):
        fetch(request(url, politeness), politeness)
    assert len(feed_server.seen("/down")) == 3
    assert len(sleeps) == 2
    assert all(wait > 0 for wait in sleeps)


def test_long_retry_after_skips_the_source(
    feed_server: FeedServer, politeness: Politeness, sleeps: list[float]
) -> None:
    url = feed_server.route("/later", Reply(429, b"", {"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        fetch(request(url, politeness), politeness)
    assert caught.value.retry_after == 3600
    assert sleeps == []
    assert len(feed_server.seen("/later")) == 1


def test_hung_server_times_out(feed_server: FeedServer, politeness: Politeness) -> None:
    url = feed_server.route("/hang", Reply(hang=True))
    with pytest.raises(SourceError, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.2 s"):
        fetch(request(url, politeness, timeout=0.2), politeness)


def test_connection_refused(politeness: Politeness) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError, match=r"cannot connect to 127\.0\.0\.1"):
        fetch(request(f"http://127.0.0.1:{port}/feed", politeness), politeness)


def test_body_past_the_size_cap_is_cut(feed_server: FeedServer, politeness: Politeness) -> None:
    url = feed_server.route("/huge", Reply(200, b"x" * 10_000_000))
    fetched = fetch(request(url, politeness, max_bytes=1_000_000), politeness)
    assert fetched.truncated
    assert len(fetched.body) == 1_000_000


def test_throttle_spaces_requests_per_host() -> None:
    clock = [100.0]
    throttle = Pacer(3.0, clock=lambda: clock[0])
    assert [throttle.reserve("export.arxiv.org") for _ in range(3)] == [0.0, 3.0, 6.0]
    assert throttle.reserve("rss.arxiv.org") == 0.0
    clock[0] += 10
    assert throttle.reserve("export.arxiv.org") == 0.0


def test_throttle_holds_back_concurrent_requests(feed_server: FeedServer) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    throttle = Pacer(3.0, sleep=record)
    url = feed_server.route("/a", Reply(200, b"ok"))

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            politeness = Politeness(throttle=throttle)
            req = Request(url=url, throttle=throttle)
            await asyncio.gather(*(get(client, req, politeness.policy) for _ in range(3)))

    asyncio.run(run())
    assert sorted(round(w) for w in waits) == [3, 6]


def test_retry_after_as_http_date() -> None:
    now = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 20 Aug 2025 12:01:00 GMT", now=now) == 60
    assert parse_retry_after("120") == 120
    assert parse_retry_after("soon") is None
