"""The `Renderer`: digests and account emails → finished `OutgoingEmail`s.

    renderer = Renderer(settings)             # templates compiled, CSS inlined, key loaded
    email = renderer.render_digest(digest)    # HTML + text, headers, DKIM when configured

Every message carries the headers the design requires: Message-ID on the sender's domain,
Date, List-Id, List-Unsubscribe (HTTPS and mailto), List-Unsubscribe-Post (one click),
Auto-Submitted; the envelope sender is the subscriber's VERP bounce address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from digest.config import Settings
from digest.records import Digest, OutgoingEmail, Paper, Subscriber
from digest.render.links import LinkMaker
from digest.render.mime import (
    address_header_line,
    assemble_alternative,
    clean_header_text,
    format_date,
    header_line,
    make_message_id,
)
from digest.render.signing import DkimSigner
from digest.render.templates import build_environment
from digest.render.text import one_line, shorten
from digest.render.views import FooterView, Link, digest_view, interests, topic_label
from digest.tokens import CONFIRM_MAX_AGE

MAX_HTML_BYTES = 90_000
# Invisible filler after the preheader so clients do not pull body text into the preview.
_PREHEADER_PADDING = Markup(("&#847;&zwnj;&nbsp;" * 10 + "\n") * 4)


@dataclass(frozen=True, slots=True)
class _Parts:
    subject: str
    html: str
    text: str
    unsubscribe_url: str | None = None


class Renderer:
    """Renders every email the service sends; build once, use for many messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links = LinkMaker(settings)
        self.signer = DkimSigner.from_settings(settings.mail)
        self._env = build_environment()
        self._templates = {
            name: (self._env.get_template(f"{name}.html"), self._env.get_template(f"{name}.txt"))
            for name in ("digest", "confirm", "welcome", "goodbye")
        }
        mail = settings.mail
        self._brand = one_line(mail.from_name) or "Paper Digest"
        self._fixed_headers = [address_header_line("From", mail.from_name, mail.from_address)]
        if mail.reply_to:
            self._fixed_headers.append(address_header_line("Reply-To", None, mail.reply_to))
        self._fixed_headers.append(header_line("List-Id", f"{self._brand} <{settings.list_id}>"))

    # -- digests -------------------------------------------------------------------------

    def render_digest(self, digest: Digest, *, now: datetime | None = None) -> OutgoingEmail:
        """The digest email of one subscriber for one date."""
        parts = self._digest_parts(digest)
        return self._finish(digest.subscriber, parts, now=now, kind="digest")

    def digest_html(self, digest: Digest) -> str:
        """The HTML part alone, for previews."""
        return self._digest_parts(digest).html

    def digest_text(self, digest: Digest) -> str:
        """The plain-text part alone, for previews."""
        return self._digest_parts(digest).text

    def _digest_parts(self, digest: Digest) -> _Parts:
        subscriber = digest.subscriber
        version = _version(subscriber)

        def feedback(paper: Paper) -> tuple[Link, ...]:
            if paper.db_id is None:
                return ()
            more = self.links.feedback(subscriber.id, paper.db_id, 1, version)
            less = self.links.feedback(subscriber.id, paper.db_id, -1, version)
            return (Link("More like this", more), Link("Less like this", less))

        view = digest_view(digest, feedback)
        parts = self._render("digest", self._digest_context(digest, view))
        if len(parts.html.encode("utf-8")) > MAX_HTML_BYTES:
            view = digest_view(digest, feedback, compact=True)
            parts = self._render("digest", self._digest_context(digest, view))
        return parts

    def _digest_context(self, digest: Digest, view: Any) -> dict[str, Any]:
        return {
            "subject": view.subject,
            "preheader": view.preheader,
            "heading": view.heading,
            "lead": view.lead,
            "sections": view.sections,
            "trending": view.trending,
            "foot": self._footer(digest.subscriber),
        }

    # -- account emails ------------------------------------------------------------------

    def render_confirmation(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """The double opt-in email with the confirm link (valid 72 hours)."""
        topics = ", ".join(topic_label(t) for t in subscriber.topics)
        context = {
            "subject": f"Confirm your {self._brand} subscription",
            "preheader": "One click to start your daily digest of new research papers.",
            "email": subscriber.email,
            "topics": shorten(topics, 200),
            "confirm_url": self.links.confirm(subscriber.id, _version(subscriber)),
            "expires_hours": CONFIRM_MAX_AGE // 3600,
            "foot": self._footer(subscriber, pending=True),
        }
        return self._finish(subscriber, self._render("confirm", context), now=now, kind="confirm")

    def render_welcome(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """Sent once the subscriber confirms: what they follow and when digests arrive."""
        context = {
            "subject": f"Welcome to {self._brand}",
            "preheader": "Your first digest arrives at your next send time.",
            "email": subscriber.email,
            "send_at": subscriber.send_at.strftime("%H:%M"),
            "timezone": subscriber.timezone,
            "interests": interests(subscriber),
            "foot": self._footer(subscriber),
        }
        return self._finish(subscriber, self._render("welcome", context), now=now, kind="welcome")

    def render_goodbye(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """The last email after unsubscribing, with a way back."""
        context = {
            "subject": f"You are unsubscribed from {self._brand}",
            "preheader": "No more digests will be sent to this address.",
            "email": subscriber.email,
            "home_url": self.links.home(),
            "foot": self._footer(subscriber, unsubscribed=True),
        }
        return self._finish(subscriber, self._render("goodbye", context), now=now, kind="goodbye")

    # -- shared --------------------------------------------------------------------------

    def _footer(
        self, subscriber: Subscriber, *, pending: bool = False, unsubscribed: bool = False
    ) -> FooterView:
        version = _version(subscriber)
        topics = shorten(", ".join(topic_label(t) for t in subscriber.topics), 200)
        if pending:
            reason = f"Someone, probably you, asked for {self._brand} at {subscriber.email}."
        elif unsubscribed:
            reason = f"You unsubscribed {subscriber.email} from {self._brand}."
        else:
            about = f" for: {topics}" if topics else ""
            reason = (
                f"You receive this because {subscriber.email} subscribed to {self._brand}{about}."
            )
        return FooterView(
            reason=reason,
            unsubscribe_url=None
            if unsubscribed
            else self.links.unsubscribe(subscriber.id, version),
            preferences_url=None
            if pending or unsubscribed
            else self.links.preferences(subscriber.id, version),
            footer_text=self.settings.mail.footer_text.strip(),
        )

    def _render(self, name: str, context: dict[str, Any]) -> _Parts:
        html_template, text_template = self._templates[name]
        context = {**context, "brand": self._brand, "preheader_padding": _PREHEADER_PADDING}
        return _Parts(
            subject=clean_header_text(context["subject"]),
            html=html_template.render(context),
            text=text_template.render(context),
            unsubscribe_url=context["foot"].unsubscribe_url,
        )

    def _finish(
        self, subscriber: Subscriber, parts: _Parts, *, now: datetime | None, kind: str
    ) -> OutgoingEmail:
        version = _version(subscriber)
        domain = self.settings.mail.domain
        message_id = make_message_id(domain, kind)
        unsubscribe = parts.unsubscribe_url or self.links.unsubscribe(subscriber.id, version)
        mailto = self.links.mailto_unsubscribe(subscriber.id, version)
        headers = {
            "Subject": parts.subject,
            "Date": format_date(now),
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "OOF, AutoReply",
        }
        lines = [
            *self._fixed_headers,
            address_header_line("To", None, subscriber.email),
            *(header_line(name, value) for name, value in headers.items()),
        ]
        data = assemble_alternative(lines, parts.text, parts.html)
        if self.signer is not None:
            data = self.signer.sign(data)
        return OutgoingEmail(
            to=subscriber.email,
            envelope_from=self.links.envelope_sender(subscriber.id, version),
            subject=parts.subject,
            message_id=message_id,
            data=data,
            headers={"To": subscriber.email, **headers},
        )


def _version(subscriber: Subscriber) -> int:
    return subscriber.token_version
