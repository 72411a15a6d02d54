"""Defences on every answer: security headers, size caps, rate limits, no open redirects,
and a clear page (never a 500) for malformed requests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from digest.config import Settings
from digest.web.guard import Limit, RateLimiter, WebLimits
from tests.send.smtpd import FaultySmtpServer
from tests.web.conftest import TEST_LIMITS, Site, serve_site


def test_every_page_carries_the_security_headers(site: Site) -> None:
    for path in ("/", "/subscribed", "/no-such-page", "/static/site.css", "/confirm/bad"):
        headers = site.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script_or_style(site: Site) -> None:
    html = site.client.get("/").text
    assert "<script>" not in html
    assert "<script src=" in html
    assert "style=" not in html
    assert " on" + "click=" not in html


def test_the_csrf_cookie_is_httponly_and_samesite(site: Site) -> None:
    cookie = site.client.get("/").headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_unknown_pages_and_methods_get_a_page_not_a_traceback(site: Site) -> None:
    missing = site.client.get("/wp-login.php")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert site.client.delete("/").status_code == 405
    assert site.client.put("/subscribe").status_code == 405


def test_no_open_redirects(site: Site) -> None:
    for path in ("//evil.example/", "/subscribe?next=https://evil.example", "/\\evil.example"):
        answer = site.client.get(path)
        location = answer.headers.get("location", "")
        assert not location.startswith(("http", "//", "/\\")), (path, location)
    post = site.client.post(
        "/subscribe?next=https://evil.example",
        data={"email": "a@example.org", "topics": "x", "csrf_token": site.csrf_token()},
    )
    assert post.headers["location"] == "/subscribed"


def test_oversized_and_malformed_bodies(site: Site) -> None:
    huge = site.client.post(
        "/subscribe",
        content=b"email=" + b"a" * 200_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 2048

    streamed = site.client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    garbage = site.client.post(
        "/subscribe",
        content=b"--x\r\nnonsense",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert garbage.status_code in (400, 403)
    binary = site.client.post(
        "/subscribe",
        content=bytes(range(256)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert binary.status_code in (400, 403)
    for path in ("/confirm/x", "/unsubscribe/x", "/preferences/x", "/feedback/x"):
        answer = site.client.post(
            path, content=b"\xff\xfe" * 100, headers={"content-type": "text/plain"}
        )
        assert answer.status_code < 500, path


@pytest.fixture
def strict_site(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer
) -> Iterator[Site]:
    limits = WebLimits(
        requests_per_ip=Limit(30, 60),
        signups_per_ip=Limit(3, 3600),
        signups_per_address=Limit(2, 3600),
    )
    yield from serve_site(settings, engine, smtp_server, limits)


def test_a_get_flood_is_answered_429_with_retry_after(strict_site: Site) -> None:
    codes = [strict_site.client.get("/subscribed").status_code for _ in range(40)]
    assert codes[:30] == [200] * 30
    assert set(codes[30:]) == {429}
    answer = strict_site.client.get("/")
    assert int(answer.headers["retry-after"]) >= 1


def test_sign_ups_are_limited_per_ip_and_per_address(strict_site: Site) -> None:
    site = strict_site
    token = site.csrf_token()

    def sign_up(address: str) -> httpx.Response:
        return site.client.post(
            "/subscribe", data={"email": address, "topics": "x", "csrf_token": token}
        )

    assert sign_up("a@example.org").status_code == 303
    assert sign_up("a@example.org").status_code == 303
    limited = sign_up("a@example.org")
    assert limited.status_code == 429
    assert "Too many" in limited.text
    assert sign_up("b@example.org").status_code == 429  # the IP's three are used up
    assert len(site.smtp.received) == 2


def test_rate_limiter_windows_slide() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = Limit(2, 10)
    assert limiter.allow("b", "k", limit) is None
    assert limiter.allow("b", "k", limit) is None
    assert limiter.allow("b", "k", limit) == 10
    assert limiter.allow("b", "other", limit) is None
    now[0] = 10.5
    assert limiter.allow("b", "k", limit) is None


def test_default_limits_are_sane() -> None:
    limits = WebLimits()
    assert limits.requests_per_ip.count >= 60
    assert limits.signups_per_address.count <= 10
    assert TEST_LIMITS.requests_per_ip.count > limits.requests_per_ip.count
