"""The `Renderer`: digests and account emails → finished `OutgoingEmail`s.

    renderer = Renderer(settings)             # templates compiled, CSS inlined, key loaded
    email = renderer.render_digest(digest)    # HTML + text, headers, DKIM when configured

Every message carries the headers the design requires: Message-ID on the sender's domain,
Date, List-Id, List-Unsubscribe (HTTPS and mailto), List-Unsubscribe-Post (one click),
Auto-Submitted; the envelope sender is the subscriber's VERP bounce address.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from markupsafe import Markup

from digest.config import Settings
from digest.records import WEEKDAY_NAMES, Digest, OutgoingEmail, Subscriber
from digest.render.digests import DigestWriter, WrittenDigest
from digest.render.links import LinkMaker
from digest.render.mime import (
    address_header_line,
    assemble_alternative,
    body_part,
    clean_header_text,
    format_date,
    header_line,
    make_message_id,
)
from digest.render.signing import DkimSigner
from digest.render.templates import build_environment
from digest.render.text import one_line, shorten, wrap
from digest.render.views import FooterView, interests, plan_digest, topic_label
from digest.tokens import CONFIRM_MAX_AGE

MAX_HTML_BYTES = 90_000
# Invisible filler after the preheader so clients do not pull body text into the preview.
_PREHEADER_PADDING = Markup(("&#847;&zwnj;&nbsp;" * 10 + "\n") * 4)


@dataclass(frozen=True, slots=True)
class _Parts:
    subject: str
    text: tuple[bytes, bytes]  # (transfer encoding, body octets)
    html: tuple[bytes, bytes]
    unsubscribe: tuple[str, str] | None = None  # (URL, mailto address)


class Renderer:
    """Renders every email the service sends; build once, use for many messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links = LinkMaker(settings)
        self.signer = DkimSigner.from_settings(settings.mail)
        self._env = build_environment()
        self._templates = {
            name: (self._env.get_template(f"{name}.html"), self._env.get_template(f"{name}.txt"))
            for name in ("confirm", "welcome", "goodbye")
        }
        mail = settings.mail
        self._brand = one_line(mail.from_name) or "Paper Digest"
        self._context = {"brand": self._brand, "preheader_padding": _PREHEADER_PADDING}
        # The postal address and the like: its lines kept, control characters dropped.
        self._footer_text = "\n".join(map(one_line, mail.footer_text.strip().splitlines()))
        self._digests = DigestWriter(
            self._env, self.links, context=self._context, footer_text=self._footer_text
        )
        self._fixed_headers = [address_header_line("From", mail.from_name, mail.from_address)]
        if mail.reply_to:
            self._fixed_headers.append(address_header_line("Reply-To", None, mail.reply_to))
        self._fixed_headers.append(header_line("List-Id", f"{self._brand} <{settings.list_id}>"))
        self._closing_headers = [header_line(name, value) for name, value in _FIXED.items()]

    # -- digests -------------------------------------------------------------------------

    def render_digest(self, digest: Digest, *, now: datetime | None = None) -> OutgoingEmail:
        """The digest email of one subscriber for one date."""
        subject, written, unsubscribe = self._write_digest(digest)
        parts = _Parts(
            subject=subject,
            text=(b"quoted-printable", written.text.encode("ascii")),
            html=body_part(written.html, html=True, crlf=True, lines_fit=written.html_fits),
            unsubscribe=unsubscribe,
        )
        return self._finish(digest.subscriber, parts, now=now, kind="digest")

    def digest_html(self, digest: Digest) -> str:
        """The HTML part alone, for previews."""
        return self._write_digest(digest)[1].html.replace("\r\n", "\n")

    def digest_text(self, digest: Digest) -> str:
        """The plain-text part alone, for previews."""
        text = binascii.a2b_qp(self._write_digest(digest)[1].text.encode("ascii"))
        return text.decode("utf-8").replace("\r\n", "\n")

    def _write_digest(self, digest: Digest) -> tuple[str, WrittenDigest, tuple[str, str]]:
        """(subject, both parts, the unsubscribe URL and address) of a digest."""
        subscriber = digest.subscriber
        unsubscribe = self.links.unsubscribe_pair(subscriber)
        plan = plan_digest(digest)
        foot = replace(
            self._footer(subscriber, unsubscribe[0]),
            feed_url=self.links.feed(subscriber),
            archive_url=self.links.archive(subscriber, digest.digest_date),
        )
        written = self._digests.write(digest, plan, foot)
        if _octets(written.html) > MAX_HTML_BYTES:
            written = self._digests.write(digest, plan, foot, compact=True)
        return clean_header_text(plan.subject), written, unsubscribe

    # -- account emails ------------------------------------------------------------------

    def render_confirmation(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """The double opt-in email with the confirm link (valid 72 hours)."""
        unsubscribe = self.links.unsubscribe_pair(subscriber)
        context = {
            "subject": f"Confirm your {self._brand} subscription",
            "preheader": "One click to start your daily digest of new research papers.",
            "email": subscriber.email,
            "topics": _topics(subscriber.topics),
            "confirm_url": self.links.confirm(subscriber),
            "expires_hours": CONFIRM_MAX_AGE // 3600,
            "foot": self._footer(subscriber, unsubscribe[0], pending=True),
        }
        parts = self._render("confirm", context, unsubscribe)
        return self._finish(subscriber, parts, now=now, kind="confirm")

    def render_welcome(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """Sent once the subscriber confirms: what they follow and when digests arrive."""
        unsubscribe = self.links.unsubscribe_pair(subscriber)
        context = {
            "subject": f"Welcome to {self._brand}",
            "preheader": "Your first digest arrives at your next send time.",
            "email": subscriber.email,
            "send_at": subscriber.send_at.strftime("%H:%M"),
            "timezone": subscriber.timezone,
            "when": _when(subscriber),
            "feed_only": subscriber.feed_only,
            "interests": interests(subscriber),
            "foot": self._footer(subscriber, unsubscribe[0]),
        }
        parts = self._render("welcome", context, unsubscribe)
        return self._finish(subscriber, parts, now=now, kind="welcome")

    def render_goodbye(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """The last email after unsubscribing, with a way back."""
        context = {
            "subject": f"You are unsubscribed from {self._brand}",
            "preheader": "No more digests will be sent to this address.",
            "email": subscriber.email,
            "home_url": self.links.home(),
            "foot": self._footer(subscriber, None, unsubscribed=True),
        }
        return self._finish(subscriber, self._render("goodbye", context), now=now, kind="goodbye")

    # -- shared --------------------------------------------------------------------------

    def _footer(
        self,
        subscriber: Subscriber,
        unsubscribe_url: str | None,
        *,
        pending: bool = False,
        unsubscribed: bool = False,
    ) -> FooterView:
        email = one_line(subscriber.email)
        if pending:
            reason = f"Someone, probably you, asked for {self._brand} at {email}."
        elif unsubscribed:
            reason = f"You unsubscribed {email} from {self._brand}."
        else:
            topics = _topics(subscriber.topics)
            about = f" for: {topics}" if topics else ""
            reason = f"You receive this because {email} subscribed to {self._brand}{about}."
        return FooterView(
            reason=reason,
            reason_text=wrap(reason),
            unsubscribe_url=unsubscribe_url,
            preferences_url=None if pending or unsubscribed else self.links.preferences(subscriber),
            footer_text=self._footer_text,
        )

    def _render(
        self, name: str, context: dict[str, Any], unsubscribe: tuple[str, str] | None = None
    ) -> _Parts:
        html_template, text_template = self._templates[name]
        context = {**context, **self._context}
        return _Parts(
            subject=clean_header_text(context["subject"]),
            text=body_part(text_template.render(context), html=False),
            html=body_part(html_template.render(context), html=True),
            unsubscribe=unsubscribe,
        )

    def _finish(
        self, subscriber: Subscriber, parts: _Parts, *, now: datetime | None, kind: str
    ) -> OutgoingEmail:
        message_id = make_message_id(self.settings.mail.domain, kind)
        unsubscribe, mailto = parts.unsubscribe or self.links.unsubscribe_pair(subscriber)
        headers = {
            "Subject": parts.subject,
            "Date": format_date(now),
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>",
        }
        lines = [
            *self._fixed_headers,
            address_header_line("To", None, subscriber.email),
            *(header_line(name, value) for name, value in headers.items()),
            *self._closing_headers,
        ]
        data = assemble_alternative(lines, parts.text, parts.html)
        if self.signer is not None:
            data = self.signer.sign(data)
        return OutgoingEmail(
            to=subscriber.email,
            envelope_from=self.links.envelope_sender(subscriber),
            subject=parts.subject,
            message_id=message_id,
            data=data,
            headers={"To": subscriber.email, **headers, **_FIXED},
            crlf=True,
        )


# Headers every message carries with the same value.
_FIXED = {
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "OOF, AutoReply",
}


def _when(subscriber: Subscriber) -> str:
    """`Every day`, or `Every Friday` for a weekly subscriber."""
    if subscriber.weekly and subscriber.weekday is not None:
        return f"Every {WEEKDAY_NAMES[subscriber.weekday]}"
    return "Every day"


def _octets(html: str) -> int:
    return len(html) if html.isascii() else len(html.encode("utf-8"))


@lru_cache(maxsize=4096)
def _topics(topics: tuple[str, ...]) -> str:
    """What a subscriber follows, on one line of at most 200 characters."""
    return shorten(", ".join(topic_label(topic) for topic in topics), 200)
