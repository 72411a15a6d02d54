"""Service logs: one event a line, level and context included, secrets and link tokens masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from digest.config import Settings, load_settings
from digest.logs import (
    QUIET_LOGGERS,
    EventFormatter,
    SecretFilter,
    configure_logging,
    settings_secrets,
)


@pytest.fixture
def secret_settings() -> Settings:
    return load_settings(
        database={"url": "postgresql://digest:pg-pass-123@db.internal/digest"},
        smtp={"host": "smtp.example.org", "password": "smtp-pass-456"},
        web={"secret_key": "web-secret-789"},
        sources=[],
    )


@pytest.fixture
def captured(secret_settings: Settings) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    touched = [root, *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in touched]
    handler = configure_logging(secret_settings, stream=stream)
    yield stream
    root.removeHandler(handler)
    for logger, level in zip(touched, levels, strict=True):
        logger.setLevel(level)


def test_one_line_with_time_level_logger_and_context(captured: io.StringIO) -> None:
    logging.getLogger("digest.send").info(
        "sent digest\nto subscriber", extra={"subscriber_id": 42, "message_id": "<a b@x>"}
    )
    [line] = captured.getvalue().splitlines()
    assert line.endswith(
        'INFO digest.send: sent digest to subscriber subscriber_id=42 message_id="<a b@x>"'
    )
    assert line[:20].endswith("Z")


def test_errors_stay_on_one_line_without_a_traceback(captured: io.StringIO) -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("digest.fetch").exception("fetching source %s failed", "arxiv")
    [line] = captured.getvalue().splitlines()
    assert "ERROR digest.fetch: fetching source arxiv failed: ValueError: bad thing" in line


def test_secrets_never_reach_the_log(captured: io.StringIO, secret_settings: Settings) -> None:
    log = logging.getLogger("digest.check")
    log.warning(
        "login with %s failed", "smtp-pass-456", extra={"url": secret_settings.database_url}
    )
    log.info("key is web-secret-789")
    text = captured.getvalue()
    for secret in settings_secrets(secret_settings):
        assert secret not in text
    assert text.count("***") == 3


def test_link_tokens_are_cut_from_request_lines(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/unsubscribe/eyJhbGciOi.abc-DEF",
        "1.1",
        200,
    )
    line = captured.getvalue()
    assert "/unsubscribe/***" in line
    assert "eyJhbGciOi" not in line


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/feed/12.aBcDeF.sIgNaTuRe", "/feed/***"),
        ("/archive/12.aBcDeF.sIgNaTuRe/2026-07-06", "/archive/***/2026-07-06"),
        ("/feedback/12.aBcDeF.sIgNaTuRe/2605.08401/up", "/feedback/***/2605.08401/up"),
    ],
)
def test_private_feed_and_archive_tokens_are_cut_too(
    captured: io.StringIO, path: str, shown: str
) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200
    )
    line = captured.getvalue()
    assert shown in line
    assert "sIgNaTuRe" not in line


def test_under_journald_lines_carry_the_syslog_priority() -> None:
    formatter = EventFormatter(journald=True)
    record = logging.LogRecord("digest", logging.WARNING, "", 0, "slow SMTP server", None, None)
    assert formatter.format(record) == "<4>WARNING digest: slow SMTP server"


def test_short_or_empty_values_are_not_treated_as_secrets() -> None:
    secret_filter = SecretFilter(["", "ab", "long-enough"])
    assert secret_filter.mask("ab long-enough") == "ab ***"
