"""The inbound mail listener: bounces, mailto unsubscribes and (optionally) subscribe-by-email.

An aiosmtpd SMTP (or LMTP) server that the MTA hands three kinds of mail to:

- `bounces+TOKEN@<mail domain>`: the VERP return path of every digest. A delivery status
  notification (RFC 3464) that says `Action: failed` with a 5.x.x status is a hard bounce:
  the address is suppressed and its subscriber marked `bounced`. A complaint (an ARF
  feedback report) suppresses too. Delays and soft bounces are only recorded as events.
- `unsubscribe+TOKEN@<mail domain>`: the `mailto:` of List-Unsubscribe; unsubscribes.
- `mail.subscribe_address`, when a handler is given: hands the message to it.

Everything else is refused at RCPT (550), as are malformed or truncated tokens. A token is
bound to its subscriber's link secret (see `digest.tokens`), checked when the message
arrives: mail to the address of a subscriber since erased, or since signed up anew, acts
on nobody. When the database is unavailable the answer is 451, so the MTA keeps the
message and tries again.

Every message ends in a definite reply in the service's own words, never an exception's
name or a path: 250 when done; 554 5.6.0 for a MIME structure nested deeper than the parser
goes or a header too long to read in good time; 451 4.3.0 when the database (or, for a
sign-up, the relay) is unavailable or on any other local error, so the MTA keeps the
message and tries again. A message is acted on once per subscriber and kind however many
of its recipients name them, and text taken from it (a bounce's status, diagnostic or
subject) is cleaned of NUL and other control characters and of undecodable bytes before
it is stored.

The server runs in its own thread (aiosmtpd's Controller); a handler coroutine given by the
caller runs on the caller's event loop, where its own network clients live.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import DatabaseUnavailable, MailRequestRefused, TransportError
from digest.store.engine import transaction
from digest.store.signups import unsubscribe
from digest.store.subscribers import record_event, subscriber_by_id
from digest.store.suppressions import email_of, suppress_addresses
from digest.tokens import LinkClaim, Purpose, TokenError, claim_owner, read_claim

log = logging.getLogger("digest.inbound")

SubscribeHandler = Callable[[str, bytes], Awaitable[str]]
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")
# The replies, in the service's own words.
REPLY_OK = "250 2.0.0 OK"
REPLY_TOO_DEEP = "554 5.6.0 Message refused: its MIME parts are nested too deeply"
REPLY_HEADER_TOO_LONG = "554 5.6.0 Message refused: a header is too long"
REPLY_STORE_DOWN = "451 4.3.0 Mail store temporarily unavailable, try again later"
REPLY_RELAY_DOWN = "451 4.3.0 Cannot send the confirmation now, try again later"
REPLY_LOCAL_ERROR = "451 4.3.0 Local error in processing, try again later"


# The headers anyone here reads (in any part), how long one may be and how long all may be
# together: the standard library's parsers take time that grows with the square of a
# header's length (minutes over a few hundred kilobytes of Content-Type parameters or
# folded Subject), and no bounce or sign-up needs more than a few hundred characters each.
# Checked on the raw bytes, before the parser sees them; a line in a body that happens to
# begin like one of these headers is measured too, which costs nothing real.
MAX_HEADER_CHARS = 2000
MAX_HEADER_CHARS_IN_ALL = 64_000
_READ_HEADER = re.compile(
    rb"^(?:from|subject|auto-submitted|precedence|"
    rb"content-(?:type|transfer-encoding|disposition))[ \t]*:"
    rb"[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*",
    re.IGNORECASE | re.MULTILINE,
)


class Unreadable(Exception):
    """The message cannot be read in good time; `reply` says why, in our words."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def parse_message(data: bytes) -> Message:
    """The message, or Unreadable: with a header that is read (From, Subject, Content-Type
    …) longer than MAX_HEADER_CHARS or all of them longer than MAX_HEADER_CHARS_IN_ALL, or
    nested deeper than the parser goes (it recurses once per MIME level, so thousands of
    levels exhaust the stack)."""
    sizes = [len(match[0]) for match in _READ_HEADER.finditer(data)]
    if sizes and (max(sizes) > MAX_HEADER_CHARS or sum(sizes) > MAX_HEADER_CHARS_IN_ALL):
        raise Unreadable(REPLY_HEADER_TOO_LONG)
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        for _part in message.walk():
            pass
    except RecursionError:
        raise Unreadable(REPLY_TOO_DEEP) from None
    return message


def raw_header(message: Message, name: str) -> str:
    """The first `name` header as sent (bytes that are not ASCII kept as surrogate escapes
    for clean_text to decode), or ""."""
    name = name.lower()
    return next((str(value) for key, value in message.raw_items() if key.lower() == name), "")


def clean_text(text: str, limit: int) -> str:
    """`text` safe to store and to show: bytes that were not UTF-8 replaced, NUL and every
    other control character a space, whitespace runs one space, at most `limit` chars."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    printable = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(printable.split())[:limit]


@dataclass(frozen=True, slots=True)
class Intent:
    """What a recipient address asks for: kind is bounce, unsubscribe or subscribe. For the
    first two, the address's token (`claim`) until it is checked, then the subscriber it
    was made for and their link secret."""

    kind: str
    claim: LinkClaim | None = None
    subscriber_id: int = 0
    link_secret: str = ""


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
    subject = clean_text(raw_header(message, "Subject"), 120)
    return BounceVerdict(False, f"not a delivery status notification: {subject!r}")


def _delivery_status(part: Message) -> BounceVerdict:
    payload = part.get_payload()
    blocks = [b for b in payload if isinstance(b, Message)] if isinstance(payload, list) else []
    for block in blocks[1:] or blocks:
        action = clean_text(raw_header(block, "Action"), 40).lower()
        status = clean_text(raw_header(block, "Status"), 40)
        diagnostic = clean_text(raw_header(block, "Diagnostic-Code"), 300)
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
        """What mail to `address` asks for, its token still to be checked (`checked`);
        None when it is no address of ours."""
        local, _, domain = address.rpartition("@")
        if self.subscribe is not None and address.lower() == self.subscribe_address:
            return Intent("subscribe")
        if domain.lower() != self.domain:
            return None
        kind, plus, token = local.partition("+")
        purposes: dict[str, Purpose] = {"bounces": "bounce", "unsubscribe": "unsubscribe"}
        purpose = purposes.get(kind.lower())
        if not plus or purpose is None:
            return None
        try:
            return Intent(purpose, read_claim(self._secret, purpose, token))
        except TokenError:
            return None

    def checked(self, intents: Iterable[Intent]) -> list[Intent]:
        """The intents whose tokens name a subscriber who is still there, unchanged: the
        address of an erased subscriber, or of one who has signed up anew, acts on nobody
        (DatabaseUnavailable when the store cannot be read)."""
        intents = list(intents)
        if all(intent.claim is None for intent in intents):
            return intents
        found: list[Intent] = []
        with transaction(self.engine) as session:
            for intent in intents:
                if intent.claim is None:
                    found.append(intent)
                    continue
                stored = subscriber_by_id(session, intent.claim.subscriber_id)
                try:
                    _, owner = claim_owner(self._secret, intent.claim, stored)
                except TokenError:
                    log.info("mail to a %s address that names nobody now", intent.kind)
                    continue
                found.append(Intent(intent.kind, None, owner.id, owner.link_secret))
        return found

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
            asked = getattr(envelope, "intents", [])
            intents = once_each(await asyncio.to_thread(self.checked, asked))
            message = await asyncio.to_thread(parse_message, data)
            for intent in intents:
                await self._act(intent, envelope.mail_from or "", data, message)
        except Unreadable as exc:
            log.warning("inbound mail refused: %s", exc.reply)
            return exc.reply
        except MailRequestRefused as exc:
            log.info("inbound request refused: %s", exc)
            return f"550 5.6.0 {exc}"
        except DatabaseUnavailable as exc:
            log.error("inbound mail could not be stored: %s", exc)
            return REPLY_STORE_DOWN
        except TransportError as exc:
            log.error("inbound sign-up could not be confirmed: %s", exc)
            return REPLY_RELAY_DOWN
        except Exception:  # any other failure: keep the message at the MTA, say nothing inside
            log.exception("inbound mail could not be handled")
            return REPLY_LOCAL_ERROR
        return REPLY_OK

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's hook for an error in any other step: our words, not the exception's."""
        if isinstance(error, DatabaseUnavailable):
            log.error("inbound mail: %s", error)
            return REPLY_STORE_DOWN
        log.error("inbound mail: unexpected error", exc_info=error)
        return REPLY_LOCAL_ERROR

    async def _act(self, intent: Intent, mail_from: str, data: bytes, message: Message) -> None:
        if intent.kind == "subscribe":
            await self._subscribe(mail_from, data)
        elif intent.kind == "unsubscribe":
            await asyncio.to_thread(self._unsubscribe, intent)
        else:
            verdict = await asyncio.to_thread(read_bounce, message)
            await asyncio.to_thread(self._bounce, intent, verdict)

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
            result = unsubscribe(session, intent.subscriber_id, intent.link_secret, via="mailto")
        address = result[1].email if result is not None else None
        log.info("mailto unsubscribe: %s", address or "revoked or unknown token")

    def _bounce(self, intent: Intent, verdict: BounceVerdict) -> None:
        with transaction(self.engine) as session:
            address = email_of(session, intent.subscriber_id, link_secret=intent.link_secret)
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


def once_each(intents: Iterable[Intent]) -> list[Intent]:
    """One intent per (kind, subscriber): a message with 150 recipients that all name the
    same VERP address is one bounce."""
    seen: dict[tuple[str, int], Intent] = {}
    for intent in intents:
        seen.setdefault((intent.kind, intent.subscriber_id), intent)
    return list(seen.values())


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
