"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it accepts and can be told
to misbehave: refuse at connect, at RCPT or at DATA, drop the line mid-DATA, stop answering,
take its time over each message.
It offers PIPELINING (RFC 2920) when asked to, as Postfix does.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_to: str
    data: bytes


@dataclass
class FaultPlan:
    """What the server does; `*_reply` values are full SMTP reply lines.

    `for_addresses` limits the RCPT/DATA faults to those recipients (empty: everyone);
    `times` limits how many times a fault fires (None: always).
    """

    connect_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    drop_in_data: bool = False
    hang_at: str | None = None  # "rcpt" or "data": never answer
    for_addresses: frozenset[str] = frozenset()
    times: int | None = None

    def fires(self, address: str | None = None) -> bool:
        if self.for_addresses and address not in self.for_addresses:
            return False
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class FaultySmtpServer:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    plan: FaultPlan = field(default_factory=FaultPlan)
    pipelining: bool = False
    data_delay: float = 0.0  # seconds each message takes to be accepted, as a slow relay's
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: list[SMTP] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None

    def recipients(self) -> list[str]:
        with self.lock:
            return [r.rcpt_to for r in self.received]

    def drop_connections(self) -> None:
        """Hang up on every open connection, as a server does after its idle timeout."""
        assert self.loop is not None
        with self.lock:
            sessions, self.sessions = self.sessions, []
        for session in sessions:
            if session.transport is not None:
                self.loop.call_soon_threadsafe(session.transport.close)


class _Handler:
    def __init__(self, server: FaultySmtpServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.server.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        plan = self.server.plan
        if plan.hang_at == "rcpt" and plan.fires(address):
            await asyncio.sleep(3600)
        if plan.rcpt_reply and plan.fires(address):
            return plan.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        plan = self.server.plan
        to = envelope.rcpt_tos[0]
        if plan.hang_at == "data" and plan.fires(to):
            await asyncio.sleep(3600)
        if plan.drop_in_data and plan.fires(to):
            assert smtp.transport is not None
            smtp.transport.close()
            return "250 OK (never seen)"
        if plan.data_reply and plan.fires(to):
            return plan.data_reply
        if self.server.data_delay:
            await asyncio.sleep(self.server.data_delay)
        with self.server.lock:
            self.server.received.append(Received(envelope.mail_from, to, envelope.content))
        return "250 OK queued"


class _FaultySMTP(SMTP):
    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.record = handler.server

    async def _handle_client(self) -> None:
        with self.record.lock:
            self.record.connections += 1
            self.record.sessions.append(self)
            self.record.loop = asyncio.get_running_loop()
        reply = self.record.plan.connect_reply
        if reply and self.record.plan.fires():
            await self.push(reply)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Controller(Controller):
    def __init__(self, record: FaultySmtpServer, credentials: tuple[str, str] | None) -> None:
        self.record = record
        self.credentials = credentials
        super().__init__(_Handler(record), hostname=record.host, port=record.port)

    def factory(self) -> SMTP:
        kwargs: dict[str, Any] = {"hostname": "sink.test", "data_size_limit": 0}
        if self.credentials:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        return _FaultySMTP(self.handler, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.credentials
        )
        return AuthResult(success=ok, handled=False)


class running_server:
    """Context manager: a FaultySmtpServer listening on 127.0.0.1 for the duration."""

    def __init__(
        self, credentials: tuple[str, str] | None = None, *, pipelining: bool = False
    ) -> None:
        self.record = FaultySmtpServer("127.0.0.1", free_port(), pipelining=pipelining)
        self.controller = _Controller(self.record, credentials)

    def __enter__(self) -> FaultySmtpServer:
        self.controller.start()
        with self.record.lock:
            self.record.connections = 0  # not the start-up probe
        return self.record

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
