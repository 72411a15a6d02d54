"""Logging for the long-running commands: one event a line, with its level and context.

    2025-06-02T07:00:05Z INFO digest.send: sent digest subscriber_id=42 message_id=<…>

Context travels in `extra={...}` and is printed as `key=value` after the message. Under
systemd (`$JOURNAL_STREAM` names our stdout) each line starts with the syslog priority
(`<6>`) instead of a timestamp, so `journalctl -p warning` works and times are not doubled.

Secrets never reach the log: the configured password, secret key and database password
are masked wherever they appear, and the token part of link paths (`/unsubscribe/…`,
`/feed/…`, `/archive/…` and the rest) is
cut out of request lines.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.config import Settings

MASK = "***"
_TOKEN_PATH = re.compile(
    r"(/(?:confirm|unsubscribe|preferences|feedback|archive|feed)/)[^\s/?\"']+"
)
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
    "taskName",
}
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
QUIET_LOGGERS = {
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
    "httpx": logging.WARNING,
    "mail.log": logging.WARNING,
}


def _format_value(value: object) -> str:
    text = str(value)
    if not text or any(ch.isspace() or ch in '"=' for ch in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


class EventFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …`, always on one line."""

    def __init__(self, *, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        context = " ".join(
            f"{key}={_format_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and not key.startswith("_") and value is not None
        )
        line = f"{record.levelname} {record.name}: {message}"
        if context:
            line = f"{line} {context}"
        line = " ".join(line.split())  # one event, one line
        if self.journald:
            level = min(_PRIORITY, key=lambda known: abs(known - record.levelno))
            return f"<{_PRIORITY[level]}>{line}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        return f"{stamp} {line}"


class SecretFilter(logging.Filter):
    """Masks known secret values and link tokens in every record that passes."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _TOKEN_PATH.sub(rf"\g<1>{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                record.__dict__[key] = self.mask(value)
        return True


def settings_secrets(settings: Settings) -> list[str]:
    """The secret values in `settings`, to be masked in logs."""
    found = [settings.smtp.password or "", settings.web.secret_key or ""]
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:
        password = None
    if password:
        found.append(str(password))
    return found


def writes_to_journal(stream: IO[Any]) -> bool:
    """True when `stream` is the journald stream systemd connected us to."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


class _ServiceHandler(logging.StreamHandler[IO[Any]]):
    """The handler `configure_logging` installs (a second call replaces it, not adds one)."""


def configure_logging(settings: Settings, *, stream: IO[Any] | None = None) -> logging.Handler:
    """Send every log record to `stream` (stdout) as one line; returns the handler."""
    stream = stream or sys.stdout
    handler = _ServiceHandler(stream)
    handler.setFormatter(EventFormatter(journald=writes_to_journal(stream)))
    handler.addFilter(SecretFilter(settings_secrets(settings)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ServiceHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.service.log_level.upper())
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, root.level))
    return handler
