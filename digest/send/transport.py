"""Mail transports: how a finished `OutgoingEmail` leaves the process.

Two implementations of one small interface (`Transport`):

- `SmtpTransport`: SMTP via aiosmtplib's public API, over a small pool of reused
  connections (`smtp.max_connections`), with `security = starttls | tls | none`, AUTH, a
  timeout on every step and a global messages-per-second limit (`smtp.rate_per_second`,
  0 = none). aiosmtplib opens each connection (greeting, STARTTLS or TLS, AUTH); each
  message is MAIL, RCPT and DATA, one command at a time.
- `OutboxTransport`: one `.eml` file per message in a directory; the default when no SMTP
  host is configured, so a fresh install works end to end with nothing else running.

Failures are raised as `TransportError` and classified for the delivery loop:

TransportError                 the message was not (knowingly) delivered
├── permanent=True             5xx to RCPT (not 552): the address is bad, suppress it
├── in_data=True               the connection dropped or timed out during DATA: the
│                              message may have been handed over, never resend blindly
├── MessageRejected            5xx for this message but not for the address (DATA refused,
│                              policy, 552 at DATA): fail the message, keep the address
└── otherwise                  4xx, 552, refused/dropped connection, timeout: retry later
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib

from digest.config import Settings, SmtpSettings
from digest.errors import TransportError
from digest.pacing import Pacer
from digest.records import OutgoingEmail

MAX_MESSAGES_PER_CONNECTION = 500
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


class _StaleConnection(Exception):
    """A reused connection turned out to be closed before anything was sent on it."""


@dataclass
class _Connection:
    """One pooled connection and how many messages it has carried."""

    client: aiosmtplib.SMTP
    sent: int = 0


class MessageRejected(TransportError):
    """The server refused this message for a reason that is not the address itself."""


class Transport(Protocol):
    """Hands one finished message to the mail system."""

    async def send(self, email: OutgoingEmail) -> None:
        """Deliver `email`; raise TransportError when it was not accepted."""
        ...

    async def close(self) -> None:
        """Release connections; the transport may not be used afterwards."""
        ...


def make_transport(settings: Settings) -> Transport:
    """SMTP when `smtp.host` is set, else the outbox directory."""
    if settings.smtp.host:
        return SmtpTransport(settings.smtp)
    return OutboxTransport(settings.outbox_dir)


class OutboxTransport:
    """Writes each message to `<directory>/<time>-<n>.eml`, atomically (temp file + rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = 0

    async def send(self, email: OutgoingEmail) -> None:
        self._counter += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self._counter}.eml"
        data = f"Return-Path: <{email.envelope_from}>\r\n".encode() + email.data
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise TransportError(
                f"cannot write to the outbox {self.directory}: {exc.strerror}; "
                "check mail.outbox_dir and its permissions"
            ) from None

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(data)
        temporary.rename(self.directory / name)

    async def close(self) -> None:
        return None


class SmtpTransport:
    """SMTP over a pool of at most `max_connections` reused connections."""

    def __init__(self, smtp: SmtpSettings, *, tls_context: ssl.SSLContext | None = None) -> None:
        """`tls_context` replaces the system's certificate checks (a private CA, tests)."""
        if not smtp.host:
            raise TransportError("smtp.host is not set")
        self.settings = smtp
        self.where = f"{smtp.host}:{smtp.port}"
        self._tls_context = tls_context
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(smtp.max_connections)
        rate = smtp.rate_per_second
        self._rate = Pacer(1.0 / rate if rate > 0 else 0.0)  # 0: no limit
        self._closed = False

    async def send(self, email: OutgoingEmail) -> None:
        if self._closed:
            raise TransportError("the SMTP transport is closed")
        await self._rate.wait()
        async with self._slots:
            conn = await self._checkout()
            try:
                await self._transact(conn, email)
            except TransportError as exc:
                await self._after_refusal(conn, exc)
                raise
            except BaseException:
                conn.client.close()
                raise
            await self._checkin(conn)

    async def _checkout(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.client.is_connected:
                return conn
            conn.client.close()
        return _Connection(await self._connect())

    async def _checkin(self, conn: _Connection) -> None:
        conn.sent += 1
        if conn.sent >= MAX_MESSAGES_PER_CONNECTION or self._closed:
            await _quit(conn.client)
        else:
            self._idle.append(conn)

    async def _after_refusal(self, conn: _Connection, error: TransportError) -> None:
        """Keep a connection whose server refused this message but is still talking (it
        answered, and answers RSET); close it after a timeout, a drop or a 421."""
        client = conn.client
        answered = error.code is not None and error.code != 421 and not error.in_data
        if answered and client.is_connected and not self._closed:
            try:
                await client.rset()
            except (aiosmtplib.SMTPException, OSError):
                pass
            else:
                self._idle.append(conn)
                return
        client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        """A connection with the greeting, STARTTLS or TLS and AUTH done (by aiosmtplib)."""
        smtp = self.settings
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout,
            tls_context=self._tls_context,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise TransportError(
                f"SMTP server {self.where} refused the login ({exc.code} {exc.message}); "
                "check smtp.username and smtp.password",
                code=exc.code,
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise self._connect_error(exc) from None
        return client

    def _connect_error(self, exc: Exception) -> TransportError:
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return TransportError(
                f"SMTP server {self.where} answered {exc.code} {exc.message} on connect",
                code=exc.code,
            )
        text = str(exc)
        if "STARTTLS" in text and "not supported" in text:
            return TransportError(
                f"SMTP server {self.where} does not offer STARTTLS; set smtp.security to "
                "'tls' (implicit TLS port) or 'none' (only on a trusted network)"
            )
        if isinstance(exc, asyncio.TimeoutError | aiosmtplib.SMTPTimeoutError):
            return TransportError(f"SMTP server {self.where} did not answer in time")
        return TransportError(f"cannot connect to SMTP server {self.where}: {text or exc!r}")

    async def _transact(self, conn: _Connection, email: OutgoingEmail) -> None:
        try:
            await self._envelope(conn.client, email, reused=conn.sent > 0)
        except _StaleConnection:
            # A reused connection the server had quietly dropped: once more on a fresh one.
            conn.client.close()
            conn.client, conn.sent = await self._connect(), 0
            await self._envelope(conn.client, email, reused=False)
        try:
            await conn.client.data(email.data)
        except aiosmtplib.SMTPDataError as exc:
            raise _data_refused(exc, self.where) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise self._lost_in_data(exc) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._classify(exc) from None

    async def _envelope(
        self, client: aiosmtplib.SMTP, email: OutgoingEmail, *, reused: bool
    ) -> None:
        """MAIL and RCPT: whatever goes wrong here, nothing was handed over."""
        try:
            await client.mail(email.envelope_from)
        except aiosmtplib.SMTPServerDisconnected as exc:
            if reused:
                raise _StaleConnection from None
            raise self._classify(exc) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._classify(exc) from None
        try:
            await client.rcpt(email.to)
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise _refused(exc, email.to) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._classify(exc) from None

    def _lost_in_data(self, exc: aiosmtplib.SMTPException) -> TransportError:
        """The connection dropped or timed out during DATA: the message may have been
        handed over (from outside the client, the moment it was cannot be told apart)."""
        what = "timed out" if isinstance(exc, aiosmtplib.SMTPTimeoutError) else "dropped"
        return TransportError(
            f"connection to {self.where} {what} during DATA ({exc}); the message may "
            "or may not have been accepted",
            in_data=True,
        )

    def _classify(self, exc: Exception) -> TransportError:
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            return TransportError(
                f"SMTP server {self.where} refused the sender {exc.sender} "
                f"({exc.code} {exc.message}); check mail.from_address",
                code=exc.code,
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return TransportError(
                f"SMTP server {self.where} answered {exc.code} {exc.message}", code=exc.code
            )
        what = "timed out" if isinstance(exc, aiosmtplib.SMTPTimeoutError) else "dropped"
        return TransportError(f"connection to {self.where} {what} before DATA: {exc}")

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(conn.client) for conn in idle))


def _enhanced_class(message: str) -> tuple[int, int] | None:
    match = _ENHANCED.match(message)
    return (int(match[1]), int(match[2])) if match else None


def _refused(exc: aiosmtplib.SMTPRecipientRefused, address: str) -> TransportError:
    code, text = exc.code, exc.message
    reason = f"{address} refused: {code} {text}"
    if not 500 <= code < 600 or code == 552:
        return TransportError(reason, code=code)
    # 530 (authentication required) and 5.7.x (policy, relaying denied) describe our
    # side of the conversation, not the address: never suppress a list over them.
    if code == 530 or _enhanced_class(text) == (5, 7):
        return MessageRejected(reason, code=code)
    return TransportError(reason, code=code, permanent=True)


def _data_refused(exc: aiosmtplib.SMTPDataError, where: str) -> TransportError:
    reason = f"SMTP server {where} refused the message: {exc.code} {exc.message}"
    if 500 <= exc.code < 600 and exc.code != 552:
        if _enhanced_class(exc.message) in ((5, 1), (5, 2)):
            return TransportError(reason, code=exc.code, permanent=True)
        return MessageRejected(reason, code=exc.code)
    return TransportError(reason, code=exc.code)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
