"""The inbound mail listener: bounces, mailto unsubscribes and (optionally) subscribe-by-email.

An aiosmtpd SMTP (or LMTP) server that the MTA hands three kinds of mail to:

- `bounces+TOKEN@<mail domain>`: the VERP return path of every digest. A delivery status
  notification (RFC 3464) that says `Action: failed` with a 5.x.x status is a hard bounce:
  the address is suppressed and its subscriber marked `bounced`. A complaint (an ARF
  feedback report) suppresses too. Delays and soft bounces are only recorded as events.
- `unsubscribe+TOKEN@<mail domain>`: the `mailto:` of List-Unsubscribe; unsubscribes.
- `mail.subscribe_address`, when a handler is given: hands the message to it.

Everything else is refused at RCPT (550), as are forged or truncated tokens. When the
database is unavailable the answer is 451, so the MTA keeps the message and tries again.

The server runs in its own thread (aiosmtpd's Controller); a handler coroutine given by the
caller runs on the caller's event loop, where its own network clients live.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from digest.config import Settings
from digest.store.engine import transaction
from digest.store.signups import unsubscribe
from digest.store.subscribers import record_event
from digest.store.suppressions import email_of, suppress_addresses
from digest.tokens import TokenError, read_token

log = logging.getLogger("digest.inbound")

SubscribeHandler = Callable[[str, bytes], Awaitable[str]]
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True, slots=True)
class Intent:
    """What a recipient address asks for: kind is bounce, unsubscribe or subscribe."""

    kind: str
    subscriber_id: int = 0
    version: int = 0


@dataclass(frozen=True, slots=True)
class BounceVerdict:
    hard: bool
    reason: str


def read_bounce(message: Message) -> BounceVerdict:
    """Classify a message sent to a VERP address: hard bounce, complaint or something soft."""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
        if report_type == "feedback-report":
            return BounceVerdict(True, "complaint (feedback report)")
        for part in message.walk():
            if part.get_content_type() in _STATUS_TYPES:
                return _delivery_status(part)
    subject = str(message.get("Subject", ""))[:120]
    return BounceVerdict(False, f"not a delivery status notification: {subject!r}")


def _delivery_status(part: Message) -> BounceVerdict:
    payload = part.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    for block in blocks[1:] or blocks:
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())[:300]
        match = _STATUS.match(status)
        if action == "failed" and match and match[1] == "5":
            return BounceVerdict(True, f"bounce {status} {diagnostic}".strip())
        if action in ("failed", "delayed"):
            return BounceVerdict(False, f"{action} {status} {diagnostic}".strip())
    return BounceVerdict(False, "delivery status without a failed recipient")


class InboundHandler:
    """aiosmtpd handler: decides at RCPT, acts at DATA (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        subscribe: SubscribeHandler | None = None,
        *,
        handler_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.subscribe = subscribe
        self.handler_loop = handler_loop
        self.domain = settings.mail.domain.lower()
        self.subscribe_address = (settings.mail.subscribe_address or "").lower()
        self._secret = settings.secret_key()

    def intent_for(self, address: str) -> Intent | None:
        local, _, domain = address.rpartition("@")
        if self.subscribe is not None and address.lower() == self.subscribe_address:
            return Intent("subscribe")
        if domain.lower() != self.domain:
            return None
        kind, plus, token = local.partition("+")
        purpose = {"bounces": "bounce", "unsubscribe": "unsubscribe"}.get(kind.lower())
        if not plus or purpose is None:
            return None
        try:
            data = read_token(self._secret, purpose, token)  # type: ignore[arg-type]
        except TokenError:
            return None
        return Intent(purpose, data.subscriber_id, data.version)

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        intent = self.intent_for(address)
        if intent is None:
            return "550 5.1.1 No such mailbox here"
        if getattr(envelope, "intents", None) is None:
            envelope.intents = []
        envelope.intents.append(intent)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        try:
            for intent in getattr(envelope, "intents", []):
                await self._act(intent, envelope.mail_from or "", data)
        except SQLAlchemyError:
            log.exception("inbound mail could not be stored")
            return "451 4.3.0 Temporary failure, try again later"
        return "250 2.0.0 OK"

    async def _act(self, intent: Intent, mail_from: str, data: bytes) -> None:
        if intent.kind == "subscribe":
            await self._subscribe(mail_from, data)
        elif intent.kind == "unsubscribe":
            await asyncio.to_thread(self._unsubscribe, intent)
        else:
            message = email.message_from_bytes(data, policy=email.policy.compat32)
            await asyncio.to_thread(self._bounce, intent, read_bounce(message))

    async def _subscribe(self, mail_from: str, data: bytes) -> None:
        assert self.subscribe is not None
        work = self.subscribe(mail_from, data)
        if self.handler_loop is None or self.handler_loop is asyncio.get_running_loop():
            outcome = await work
        else:
            future: Future[str] = asyncio.run_coroutine_threadsafe(
                _as_coroutine(work), self.handler_loop
            )
            outcome = await asyncio.wrap_future(future)
        log.info("subscribe-by-email: %s", outcome)

    def _unsubscribe(self, intent: Intent) -> None:
        with transaction(self.engine) as session:
            result = unsubscribe(session, intent.subscriber_id, intent.version, via="mailto")
        address = result[1].email if result is not None else None
        log.info("mailto unsubscribe: %s", address or "revoked or unknown token")

    def _bounce(self, intent: Intent, verdict: BounceVerdict) -> None:
        with transaction(self.engine) as session:
            address = email_of(session, intent.subscriber_id, version=intent.version)
            if address is None:
                return
            if verdict.hard:
                suppress_addresses(session, [(address, verdict.reason)], source="bounce")
            else:
                record_event(
                    session,
                    "soft_bounce",
                    email=address,
                    subscriber_id=intent.subscriber_id,
                    detail=verdict.reason[:2000],
                )
        log.info("bounce for %s: %s", address, verdict.reason)


async def _as_coroutine(work: Awaitable[str]) -> str:
    return await work


class _Controller(Controller):
    def __init__(self, handler: InboundHandler, host: str, port: int, *, lmtp: bool) -> None:
        self.lmtp = lmtp
        super().__init__(handler, hostname=host, port=port)

    def factory(self) -> SMTP:
        kind = LMTP if self.lmtp else SMTP
        return kind(
            self.handler,
            hostname=self.handler.domain,
            data_size_limit=MAX_MESSAGE_BYTES,
            ident="Paper Digest inbound",
        )


class InboundListener:
    """Starts and stops the listener on `[inbound] host`:`port` (see the module docstring).

    listener = InboundListener(settings, engine, subscribe=handler)
    listener.start()      # returns once it accepts connections
    listener.stop()
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        subscribe: SubscribeHandler | None = None,
        *,
        lmtp: bool = False,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.subscribe = subscribe
        self.lmtp = lmtp
        self._controller: _Controller | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.settings.inbound.host or "127.0.0.1", self.settings.inbound.port)

    def start(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        handler = InboundHandler(self.settings, self.engine, self.subscribe, handler_loop=loop)
        host, port = self.address
        self._controller = _Controller(handler, host, port, lmtp=self.lmtp)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
