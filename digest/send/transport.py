"""Mail transports: how a finished `OutgoingEmail` leaves the process.

Two implementations of one small interface (`Transport`):

- `SmtpTransport`: SMTP via aiosmtplib, over a small pool of reused connections
  (`smtp.max_connections`), with `security = starttls | tls | none`, AUTH, a timeout on
  every step and a global messages-per-second limit (`smtp.rate_per_second`, 0 = none).
  aiosmtplib opens each connection (greeting, STARTTLS or TLS, AUTH). When the server
  offers PIPELINING (RFC 2920), as Postfix does, MAIL, RCPT and DATA then go out in one
  write and their replies are read together: two round trips a message instead of four.
- `OutboxTransport`: one `.eml` file per message in a directory; the default when no SMTP
  host is configured, so a fresh install works end to end with nothing else running.

Failures are raised as `TransportError` and classified for the delivery loop:

TransportError                 the message was not (knowingly) delivered
├── permanent=True             5xx to RCPT (not 552): the address is bad, suppress it
├── in_data=True               the connection dropped after the message data was handed
│                              over: the outcome is unknown, never resend blindly
├── MessageRejected            5xx for this message but not for the address (DATA refused,
│                              policy, 552 at DATA): fail the message, keep the address
└── otherwise                  4xx, 552, refused/dropped connection, timeout: retry later
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from digest.config import Settings, SmtpSettings
from digest.errors import TransportError
from digest.records import OutgoingEmail

MAX_MESSAGES_PER_CONNECTION = 500
MAX_REPLY_BYTES = 64 * 1024  # a reply longer than this is refused, as aiosmtplib does
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_DOT_LINE = re.compile(rb"\n\.")  # a regular search finds it faster than `in` does


class _StaleConnection(Exception):
    """A reused connection turned out to be closed before anything was sent on it."""


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


class RateLimiter:
    """Spaces calls evenly so that at most `per_second` pass each second (0 = no limit)."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


class _Replies(asyncio.Protocol):
    """The reading side of a pipelined connection (RFC 2920): every complete reply is kept,
    in order, however the bytes arrive, for the commands that were written together.
    aiosmtplib's own protocol reads one reply per command written and drops the rest."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        self._error: aiosmtplib.SMTPException | None = None
        self._closed = asyncio.get_running_loop().create_future()

    @property
    def connected(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.connected:
            raise aiosmtplib.SMTPServerDisconnected(self._lost or "Connection lost")
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (reply := self._take_reply()) is not None:
            self._replies.append(reply)
        if len(self._buffer) > MAX_REPLY_BYTES:
            self._fail("the server sent an over-long reply")
        self._wake()

    def eof_received(self) -> bool:
        self._lost = "the server closed the connection"
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = f"connection lost: {exc}" if exc else (self._lost or "connection lost")
        self._wake()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self, timeout: float) -> None:
        """Wait until the connection is fully shut down (TLS included), at most `timeout`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._closed)

    def _take_reply(self) -> aiosmtplib.SMTPResponse | None:
        """The first complete reply in the buffer (removed from it), if there is one."""
        lines: list[bytes] = []
        start = 0
        while (end := self._buffer.find(b"\n", start)) != -1:
            line = bytes(self._buffer[start:end]).rstrip(b"\r")
            start = end + 1
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                self._fail(f"malformed SMTP reply line {line[:80]!r}")
                return None
            lines.append(line[4:])
            if line[3:4] != b"-":
                del self._buffer[:start]
                text = b"\n".join(lines).decode("utf-8", "surrogateescape")
                return aiosmtplib.SMTPResponse(int(line[:3]), text)
        return None

    def _fail(self, reason: str) -> None:
        self._error = aiosmtplib.SMTPResponseException(-1, reason)
        self._buffer.clear()
        self.transport.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def reply(self, timeout: float | None) -> aiosmtplib.SMTPResponse:
        """The next reply, waiting at most `timeout` seconds for it."""
        while not self._replies:
            if self._error is not None:
                raise self._error
            if self._lost is not None:
                raise aiosmtplib.SMTPServerDisconnected(self._lost)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                self.transport.close()
                raise aiosmtplib.SMTPReadTimeoutError("timed out waiting for the server") from None
            finally:
                self._waiter = None
        return self._replies.popleft()

    def close(self) -> None:
        self.transport.close()


class _Connection:
    """One pooled connection: opened by aiosmtplib, then pipelined when the server offers
    it (`pipe` set: its replies are read by `_Replies` from then on)."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client
        self.sent = 0
        self.pipe: _Replies | None = None
        transport = client.transport
        if "pipelining" in client.esmtp_extensions and isinstance(transport, asyncio.Transport):
            self.pipe = _Replies(transport)
            transport.set_protocol(self.pipe)

    @property
    def connected(self) -> bool:
        return self.pipe.connected if self.pipe is not None else self.client.is_connected

    def close(self) -> None:
        if self.pipe is not None:
            self.pipe.close()
        self.client.close()


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
        self._rate = RateLimiter(smtp.rate_per_second)
        self._closed = False
        # Whether the server offers PIPELINING: None until the first connection is open.
        self.pipelining: bool | None = None

    async def send(self, email: OutgoingEmail) -> None:
        if self._closed:
            raise TransportError("the SMTP transport is closed")
        await self._rate.wait()
        async with self._slots:
            conn = await self._checkout()
            try:
                await self._transact(conn, email)
            except TransportError:
                self._discard(conn)
                raise
            except (aiosmtplib.SMTPException, OSError) as exc:
                self._discard(conn)
                raise self._classify(exc, email) from None
            await self._checkin(conn)

    async def _checkout(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if conn.connected:
                return conn
            conn.close()
        return await self._connect()

    async def _checkin(self, conn: _Connection) -> None:
        conn.sent += 1
        if conn.sent >= MAX_MESSAGES_PER_CONNECTION or self._closed:
            await _quit(conn, self.settings.timeout)
        else:
            self._idle.append(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.close()

    async def _connect(self) -> _Connection:
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
            await _greet(client)
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
        conn = _Connection(client)
        self.pipelining = conn.pipe is not None
        return conn

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
            await self._transact_once(conn, email)
        except _StaleConnection:
            # A reused connection the server had quietly dropped: try once on a fresh one.
            fresh = await self._connect()
            conn.close()
            conn.client, conn.pipe, conn.sent = fresh.client, fresh.pipe, 0
            await self._transact_once(conn, email)

    async def _transact_once(self, conn: _Connection, email: OutgoingEmail) -> None:
        if conn.pipe is not None:
            await self._transact_pipelined(conn, conn.pipe, email)
            return
        client = conn.client
        try:
            await _mail(client, email.envelope_from)
        except aiosmtplib.SMTPServerDisconnected:
            if conn.sent == 0:
                raise
            raise _StaleConnection from None
        try:
            await _rcpt(client, email.to)
        except aiosmtplib.SMTPRecipientRefused as exc:
            await _reset(client)
            raise _refused(exc, email.to) from None
        try:
            await _data(client, email.data, crlf=email.crlf)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise self._lost_in_data(exc) from None

    async def _transact_pipelined(
        self, conn: _Connection, pipe: _Replies, email: OutgoingEmail
    ) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies; then the message
        and its reply. The outcomes are those of the step-by-step path."""
        timeout = self.settings.timeout
        sender, recipient = email.envelope_from.encode("ascii"), email.to.encode("ascii")
        try:
            pipe.write(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (sender, recipient))
            mail = await pipe.reply(timeout)
        except aiosmtplib.SMTPServerDisconnected:
            if conn.sent == 0:
                raise
            raise _StaleConnection from None
        rcpt = await pipe.reply(timeout)
        data = await pipe.reply(timeout)
        # On any refusal the connection is dropped (see `send`), with no message data
        # sent, even by a server that opened DATA after refusing the envelope.
        if mail.code != 250:
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, email.envelope_from)
        if rcpt.code not in (250, 251):
            refused = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, email.to)
            raise _refused(refused, email.to)
        if data.code != 354:
            raise aiosmtplib.SMTPDataError(data.code, data.message)
        try:
            pipe.write(wire_data(email.data, crlf=email.crlf))
            done = await pipe.reply(timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise self._lost_in_data(exc) from None
        if done.code != 250:
            raise aiosmtplib.SMTPDataError(done.code, done.message)

    def _lost_in_data(self, exc: aiosmtplib.SMTPException) -> TransportError:
        """The connection dropped or timed out after the message data was handed over."""
        what = "timed out" if isinstance(exc, aiosmtplib.SMTPTimeoutError) else "dropped"
        return TransportError(
            f"connection to {self.where} {what} during DATA ({exc}); the message may "
            "or may not have been accepted",
            in_data=True,
        )

    def _classify(self, exc: Exception, email: OutgoingEmail) -> TransportError:
        if isinstance(exc, aiosmtplib.SMTPDataError):
            return _data_refused(exc, self.where)
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
        await asyncio.gather(*(_quit(conn, self.settings.timeout) for conn in idle))


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


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO for an old server) unless connecting already did, as for STARTTLS."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


async def _mail(client: aiosmtplib.SMTP, sender: str) -> None:
    """MAIL FROM for an address the store has already validated (ASCII, no specials)."""
    response = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode("ascii") + b">")
    if response.code != 250:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)


async def _rcpt(client: aiosmtplib.SMTP, recipient: str) -> None:
    response = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode("ascii") + b">")
    if response.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(response.code, response.message, recipient)


def wire_data(message: bytes, *, crlf: bool = False) -> bytes:
    """`message` as DATA puts it on the wire: CRLF line ends, lines starting with a dot
    doubled, and the final `.` line. `crlf`: the message is known to be in CRLF form
    (`OutgoingEmail.crlf`), so only its dots are looked for: one C-level search, and a
    replace when a line does start with a dot. Otherwise three C-level counts first."""
    if not crlf:
        lines = message.count(b"\n")
        if lines != message.count(b"\r\n") or lines != message.count(b"\r"):
            message = normalize_message_line_endings(message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    if _DOT_LINE.search(message):
        message = message.replace(b"\r\n.", b"\r\n..")
    return message + b".\r\n"


async def _data(client: aiosmtplib.SMTP, message: bytes, *, crlf: bool = False) -> None:
    """DATA with the message sent as `wire_data` prepares it (aiosmtplib's own `data`
    re-scans every message with regular expressions, which dominates a delivery run)."""
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    timeout = client.timeout
    try:
        protocol.write(wire_data(message, crlf=crlf))
        response = await protocol.read_response(timeout=timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


async def _quit(conn: _Connection, timeout: float) -> None:
    try:
        if conn.pipe is not None:
            conn.pipe.write(b"QUIT\r\n")
            await conn.pipe.reply(timeout)
            conn.close()
            await conn.pipe.wait_closed(timeout)
        else:
            await conn.client.quit()
    except (aiosmtplib.SMTPException, OSError):
        conn.close()
