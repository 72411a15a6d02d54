"""Subscribing by email: a message to `mail.subscribe_address` starts the double opt-in.

The sender's address (the From header, else the envelope sender) is the address to
subscribe; each line of the plain-text body is a topic, except lines written
`category: cs.CL`, `author: Ada Lovelace`, `exclude: survey`, `timezone: Europe/Berlin`,
`send at: 07:30`, `frequency: weekly` or `weekday: monday`. Quoted text, signatures and
auto-replies are ignored; the subject is the topic when the body has none. The
confirmation email then goes to that address, exactly as for the web form (same limits),
so a forged sender subscribes nobody.

The inbound listener calls `SubscribeByEmail(settings, engine, transport)` with the
envelope sender and the raw message; a `TransportError` means "try again later" (451), a
`MailRequestRefused` (a time zone, send time, frequency or weekday that is not one) a 550
reply saying why.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import Engine

from digest import cadence
from digest.config import Settings, check_timezone
from digest.errors import MailRequestRefused, UsageError
from digest.pipeline.embed import configured_model
from digest.pipeline.signup import request_confirmation
from digest.rank.embed import SentenceModel
from digest.render.renderer import Renderer
from digest.send.transport import Transport
from digest.store.subscribers import MAX_TOPIC_LENGTH, MAX_TOPICS, SubscriberInput

log = logging.getLogger("digest.web")
_KEYS = {
    "category": "categories",
    "categories": "categories",
    "author": "authors",
    "authors": "authors",
    "exclude": "exclude",
    "timezone": "timezone",
    "time zone": "timezone",
    "send at": "send_at",
    "send_at": "send_at",
    "frequency": "frequency",
    "weekday": "weekday",
}
_SETTINGS = ("timezone", "send_at", "frequency", "weekday")
_KEYED = re.compile(r"^\s*([A-Za-z _]{4,12}):\s*(.+)$")
_ROBOTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)$", re.IGNORECASE)
_END_OF_TEXT = re.compile(r"^(-- ?|_{5,}|-{5,}\s*original message\s*-{5,}|on .+ wrote:)$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_ASKING = {"subscribe", "sign me up", "please subscribe"}
_NOT_TOPICS = _ASKING | {"hi", "hello", "thanks"}
_REFUSALS = {
    "timezone": "Not subscribed: the timezone line names no IANA time zone; "
    "write one such as Europe/Berlin",
    "send_at": "Not subscribed: the send at line is not a time written HH:MM, such as 07:30",
    "frequency": "Not subscribed: the frequency line says neither daily nor weekly",
    "weekday": "Not subscribed: the weekday line names no day of the week; write one such "
    "as monday",
}


def _header(message: EmailMessage, name: str, default: str = "") -> str:
    """A header's decoded value; `default` when it is absent or cannot be decoded (an
    encoded word hiding CR LF, comments nested thousands deep …): hostile headers never
    raise. (The inbound listener refuses headers too long to parse in good time.)"""
    try:
        value = message.get(name)
        return default if value is None else str(value)
    except (ValueError, IndexError, RecursionError, HeaderParseError):
        return default


def _is_automatic(message: EmailMessage, mail_from: str) -> bool:
    auto = _header(message, "Auto-Submitted", "no").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    return (
        not mail_from
        or auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or "X-Autoreply" in message
        or "List-Id" in message
    )


def _body_text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())
    except (LookupError, ValueError, RecursionError, HeaderParseError):
        return ""


def _body_lines(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if _END_OF_TEXT.match(line):
            break
        if line and not line.startswith(">"):
            lines.append(_BULLET.sub("", line).strip())
    return lines[:200]


def _setting(key: str, value: str) -> str:
    """The time zone, send time, frequency or weekday a keyed line gives;
    MailRequestRefused if it is not one."""
    read = {
        "timezone": check_timezone,
        "send_at": cadence.send_time,
        "frequency": cadence.frequency,
        "weekday": cadence.weekday,
    }[key]
    try:
        return read(value)
    except ValueError:
        raise MailRequestRefused(_REFUSALS[key]) from None


def signup_from_message(message: EmailMessage, mail_from: str) -> SubscriberInput | None:
    """What the message asks for, or None when it asks for nothing (or is automatic).
    MailRequestRefused when a `timezone:` or `send at:` line names no time zone or time."""
    if _is_automatic(message, mail_from):
        return None
    address = parseaddr(_header(message, "From"))[1] or mail_from
    if not address or _ROBOTS.match(address.partition("@")[0]):
        return None
    fields: dict[str, list[str]] = {"topics": [], "categories": [], "authors": [], "exclude": []}
    single: dict[str, str] = {}
    for line in _body_lines(_body_text(message)):
        keyed = _KEYED.match(line)
        key = _KEYS.get(keyed[1].strip().lower()) if keyed else None
        if keyed and key in _SETTINGS:
            single[key] = _setting(key, keyed[2].strip())
        elif keyed and key:
            fields[key] += [v for v in re.split(r"[,;]\s*", keyed[2]) if v.strip()]
        elif line.casefold().strip(".!") not in _NOT_TOPICS and len(line) <= MAX_TOPIC_LENGTH:
            fields["topics"].append(line)
    subject = " ".join(_header(message, "Subject").split())
    if not fields["topics"] and subject and subject.casefold().strip(".!") not in _NOT_TOPICS:
        fields["topics"].append(subject[:MAX_TOPIC_LENGTH])
    # With no topics, only a plain "subscribe" is a request: topics or papers they like can
    # be added on the preferences page later.
    asked = {line.casefold().strip(".!") for line in _body_lines(_body_text(message))}
    asked.add(subject.casefold().strip(".!"))
    if not fields["topics"] and not fields["authors"] and not asked & _ASKING:
        return None
    return SubscriberInput(
        email=address,
        topics=tuple(fields["topics"][:MAX_TOPICS]),
        categories=tuple(fields["categories"]),
        authors=tuple(fields["authors"]),
        exclude=tuple(fields["exclude"]),
        timezone=single.get("timezone"),
        send_at=single.get("send_at"),
        # A weekday alone asks for a weekly digest on that day.
        frequency=single.get("frequency") or ("weekly" if "weekday" in single else None),
        weekday=single.get("weekday"),
    )


class SubscribeByEmail:
    """The inbound listener's handler for mail to `mail.subscribe_address`."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        transport: Transport,
        *,
        model: SentenceModel | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.transport = transport
        self.model = model or configured_model(settings)
        self._renderer: Renderer | None = None

    async def __call__(self, mail_from: str, data: bytes) -> str:
        """Start the opt-in the message asks for; returns what happened, for the log:
        "sent", "active", "throttled", "suppressed", "ignored" or "invalid". Raises
        MailRequestRefused for a request its sender must correct (the listener answers 550
        with its message)."""
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        request = signup_from_message(message, mail_from)  # MailRequestRefused goes up
        if request is None:
            return "ignored"
        try:
            if self._renderer is None:
                self._renderer = Renderer(self.settings)
            return await request_confirmation(
                self.settings,
                self.engine,
                self.transport,
                request,
                renderer=self._renderer,
                model=self.model,
            )
        except UsageError as exc:
            log.info("subscribe-by-email request refused: %s", exc)
            return "invalid"
