"""The project's exceptions, one small tree. Each message says what went wrong and what to do.

Every error raised on purpose is a DigestError; how each part of the service answers it:

DigestError                 base; the CLI prints its message as one line (exit 1)
├── ConfigError             bad configuration: the key and the file (exit 2)
├── UsageError              bad input on the command line, in a form or a file (exit 2; web 400)
│   ├── MailRequestRefused  a request by mail the sender must correct (inbound 550 saying why)
│   ├── ImportRejected      (store.imports) bad CSV rows, each by line; nothing imported
│   └── LibraryError        (sources.library) a library file that cannot be read at all
├── SchemaError             database missing or behind the code: run `digest db upgrade` (exit 2)
├── NotFound                no such subscriber, paper … (exit 2)
├── TokenError              (tokens) a link forged, truncated, for another purpose or expired
│   │                       (exit 2; web 400 or 410; inbound 550 at RCPT)
│   └── BadLink             (web.links) a link that acts on nobody: expired, gone or malformed
│                           (web 400 or 410 page; never leaves the web package)
├── DatabaseUnavailable     the database cannot be reached or written: read-only, locked, down,
│                           full or damaged; the unit of work was rolled back (exit 4; web 503
│                           page; /healthz 503 naming the problem; inbound 451 4.3.0)
├── SourceError             one source could not be fetched or parsed (`digest fetch` exit 3,
│   │                       the other sources are still stored)
│   └── RateLimited         (sources.http) the server asked us to wait (Retry-After)
└── TransportError          the mail transport failed; `permanent` tells 5xx from 4xx
    │                       (`digest send` exit 3; web sign-up 503 page; inbound 451 4.3.0)
    └── MessageRejected     (send.transport) refused for a reason other than the address

A few signals never leave the module (or package) that raises them, and are not DigestErrors:

Exception
├── CsrfError               (web.csrf) a form's CSRF token missing, forged or stale (web 403 page)
├── BodyTooLarge            (web.guard) a chunked request body grew past the cap (web 413 page)
├── Unreadable              (send.inbound) an inbound message that cannot be read in good time
│                           (inbound 550 saying why)
├── _Retryable              (sources.http) a 429, 5xx or dropped connection: back off, retry
└── _StaleConnection        (send.transport) a pooled SMTP connection found closed: reconnect

Anything else that escapes is a bug: the CLI prints one line and exits 1, the web answers a
plain 500 page, the inbound listener 451 4.3.0; the details go to the log only.

`digest.store.engine` raises DatabaseUnavailable in place of the driver's error for every
statement and connection attempt, so no caller needs to know SQLite's or PostgreSQL's codes.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    exit_code = 2


class UsageError(DigestError):
    exit_code = 2


class MailRequestRefused(UsageError):
    """A request sent by mail (to the subscribe address) is refused for a reason its sender
    can correct. The message is the reply's text: one line of ASCII in the service's own
    words, quoting nothing of the mail and nothing of the service's insides."""


class SchemaError(DigestError):
    exit_code = 2


class NotFound(DigestError):
    exit_code = 2


class DatabaseUnavailable(DigestError):
    """The database cannot be used right now; trying again after the fix will work.

    `problem` is a short fixed name for monitors (read-only, locked, unreachable, full,
    damaged, disk error …) and `fix` what to do, without naming the file or host; the
    message says all three. Raised from inside a unit of work, which is then rolled back:
    nothing is half-written.
    """

    exit_code = 4

    def __init__(self, message: str, *, problem: str, fix: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.fix = fix


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
