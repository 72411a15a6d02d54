"""The project's exceptions, one small tree. Each message says what went wrong and what to do.

DigestError                 base; the CLI prints its message as one line
├── ConfigError             bad configuration (exit 2)
├── UsageError              bad input on the command line or in a file (exit 2)
├── SchemaError             database missing or behind the code: run `digest db upgrade` (exit 2)
├── NotFound                no such subscriber, paper … (exit 2)
├── SourceError             one source could not be fetched or parsed
└── TransportError          the mail transport failed; `permanent` tells 5xx from 4xx
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    exit_code = 2


class UsageError(DigestError):
    exit_code = 2


class SchemaError(DigestError):
    exit_code = 2


class NotFound(DigestError):
    exit_code = 2


class SourceError(DigestError):
    """A source failed; the message names the source and the reason."""


class TransportError(DigestError):
    """Sending one message failed.

    `permanent` is true for a 5xx answer (the address should be suppressed), false for
    4xx answers and dropped connections (retry later). `in_data` is true when the
    connection dropped after the message data was handed over, so the outcome is unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        in_data: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.in_data = in_data
