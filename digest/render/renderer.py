"""The `Renderer`: digests and account emails → finished `OutgoingEmail`s.

    renderer = Renderer(settings)             # templates compiled, CSS inlined, key loaded
    email = renderer.render_digest(digest)    # HTML + text, headers, DKIM when configured

Every email goes the same way: its `.html` and `.txt` templates render with the context
its method builds, the HTML is written in ASCII (`ascii_html`), and `mime.build_message`
makes the message. What a paper shows of itself reads the same in every digest, so a
renderer renders it once per paper and level of detail (`Shown`) for all its digests.
Every message carries the headers the design requires: Message-ID on the sender's domain,
Date, List-Id, List-Unsubscribe (HTTPS and mailto), List-Unsubscribe-Post (one click),
Auto-Submitted; the envelope sender is the subscriber's VERP bounce address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any

from markupsafe import Markup

from digest.config import Settings
from digest.records import WEEKDAY_NAMES, Digest, OutgoingEmail, Subscriber
from digest.render.links import LinkMaker
from digest.render.mime import as_utc, build_message, make_message_id
from digest.render.signing import DkimSigner
from digest.render.templates import build_environment
from digest.render.text import ascii_html, one_line, shorten
from digest.render.views import (
    MINIMAL,
    DigestPlan,
    Entry,
    FooterView,
    PaperView,
    digest_sections,
    interests,
    paper_view,
    plan_digest,
    topic_label,
    update_view,
)
from digest.tokens import CONFIRM_MAX_AGE

MAX_HTML_BYTES = 90_000
EMAILS = ("digest", "confirm", "welcome", "goodbye")
# Invisible filler after the preheader so clients do not pull body text into the preview.
_PREHEADER_PADDING = Markup(("&#847;&zwnj;&nbsp;" * 10 + "\n") * 4)
# Headers every message carries with the same value.
_FIXED = {
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "OOF, AutoReply",
}


@dataclass(frozen=True, slots=True)
class Shown:
    """What a paper shows of itself at one level of detail (`shown` and `links` of
    `_paper.html` and `_paper.txt`): it reads the same in every digest of a day, so the
    renderer renders it once and each digest adds why it was picked and its feedback links."""

    html: Markup
    links: Markup
    text: str
    text_links: str


Section = tuple[str | None, list[tuple[Entry, Shown]]]  # a heading and its picks


class Renderer:
    """Renders every email the service sends; build once, use for many messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.links = LinkMaker(settings)
        self.signer = DkimSigner.from_settings(settings.mail)
        env = build_environment()
        self._templates = {
            name: (env.get_template(f"{name}.html"), env.get_template(f"{name}.txt"))
            for name in EMAILS
        }
        self._paper_macros: tuple[Any, Any] = (
            env.get_template("_paper.html").module,
            env.get_template("_paper.txt").module,
        )
        self._shown = lru_cache(maxsize=16384)(self._render_shown)
        mail = settings.mail
        self._brand = one_line(mail.from_name) or "Paper Digest"
        self._context = {"brand": self._brand, "preheader_padding": _PREHEADER_PADDING}
        # The postal address and the like: its lines kept, control characters dropped.
        self._footer_text = "\n".join(map(one_line, mail.footer_text.strip().splitlines()))
        self._sender = [("From", formataddr((one_line(mail.from_name), mail.from_address)))]
        if mail.reply_to:
            self._sender.append(("Reply-To", mail.reply_to))
        self._sender.append(("List-Id", f"{self._brand} <{settings.list_id}>"))

    # -- digests -------------------------------------------------------------------------

    def render_digest(self, digest: Digest, *, now: datetime | None = None) -> OutgoingEmail:
        """The digest email of one subscriber for one date."""
        unsubscribe = self.links.unsubscribe_pair(digest.subscriber)
        subject, html, text = self._digest_parts(digest, unsubscribe[0])
        return self._finish(digest.subscriber, "digest", subject, html, text, unsubscribe, now)

    def digest_html(self, digest: Digest) -> str:
        """The HTML part alone, for previews."""
        return self._digest_parts(digest, self.links.unsubscribe(digest.subscriber))[1] + "\n"

    def digest_text(self, digest: Digest) -> str:
        """The plain-text part alone, for previews."""
        return self._digest_parts(digest, self.links.unsubscribe(digest.subscriber))[2] + "\n"

    def _digest_parts(self, digest: Digest, unsubscribe_url: str) -> tuple[str, str, str]:
        """(subject, HTML, plain text); every paper compact when the HTML would be too big."""
        subscriber = digest.subscriber
        plan = plan_digest(digest)
        context: dict[str, Any] = {
            "subject": plan.subject,
            "preheader": plan.preheader,
            "heading": plan.heading,
            "lead": plan.lead,
            "sections": self._sections(plan),
            "feedback": self.links.feedback_base(subscriber),
            "updates": [view for view in map(update_view, digest.updates) if view],
            "trending": [paper_view(paper, MINIMAL) for paper in plan.trending],
            "archive_url": self.links.archive(subscriber, digest.digest_date),
        }
        context["foot"] = self._footer(
            subscriber,
            unsubscribe_url,
            feed_url=self.links.feed(subscriber),
            archive_url=context["archive_url"],
        )
        html = self._html("digest", context)
        if len(html) > MAX_HTML_BYTES:  # in ASCII, a character is an octet
            context["sections"] = self._sections(plan, compact=True)
            html = self._html("digest", context)
        return plan.subject, html, self._text("digest", context)

    def _sections(self, plan: DigestPlan, *, compact: bool = False) -> list[Section]:
        """The plan's sections, each pick with what its paper shows (`Shown`)."""
        return [
            (title, [(entry, self._shown(entry.paper)) for entry in entries])
            for title, entries in digest_sections(plan, compact=compact)
        ]

    def _render_shown(self, paper: PaperView) -> Shown:
        html, text = self._paper_macros
        return Shown(
            Markup(html.shown(paper)),
            Markup(html.links(paper)),
            str(text.shown(paper)),
            str(text.links(paper)),
        )

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
        return self._account_email("confirm", subscriber, context, unsubscribe, now)

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
        return self._account_email("welcome", subscriber, context, unsubscribe, now)

    def render_goodbye(
        self, subscriber: Subscriber, *, now: datetime | None = None
    ) -> OutgoingEmail:
        """The last email after unsubscribing, with a way back (and no unsubscribe link)."""
        context = {
            "subject": f"You are unsubscribed from {self._brand}",
            "preheader": "No more digests will be sent to this address.",
            "email": subscriber.email,
            "home_url": self.links.home(),
            "foot": self._footer(subscriber, None, unsubscribed=True),
        }
        unsubscribe = self.links.unsubscribe_pair(subscriber)
        return self._account_email("goodbye", subscriber, context, unsubscribe, now)

    def _account_email(
        self,
        name: str,
        subscriber: Subscriber,
        context: dict[str, Any],
        unsubscribe: tuple[str, str],
        now: datetime | None,
    ) -> OutgoingEmail:
        html, text = self._html(name, context), self._text(name, context)
        return self._finish(subscriber, name, context["subject"], html, text, unsubscribe, now)

    # -- shared --------------------------------------------------------------------------

    def _html(self, name: str, context: dict[str, Any]) -> str:
        """The HTML part in ASCII (other characters as `&#…;`), so that it goes out 7-bit."""
        return ascii_html(self._templates[name][0].render({**context, **self._context}))

    def _text(self, name: str, context: dict[str, Any]) -> str:
        return self._templates[name][1].render({**context, **self._context})

    def _footer(
        self,
        subscriber: Subscriber,
        unsubscribe_url: str | None,
        *,
        pending: bool = False,
        unsubscribed: bool = False,
        feed_url: str | None = None,
        archive_url: str | None = None,
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
            unsubscribe_url=unsubscribe_url,
            preferences_url=None if pending or unsubscribed else self.links.preferences(subscriber),
            footer_text=self._footer_text,
            feed_url=feed_url,
            archive_url=archive_url,
        )

    def _finish(
        self,
        subscriber: Subscriber,
        kind: str,
        subject: str,
        html: str,
        text: str,
        unsubscribe: tuple[str, str],
        now: datetime | None,
    ) -> OutgoingEmail:
        """The message: headers, both parts, and the DKIM signature when a key is set."""
        url, mailto = unsubscribe
        moment = as_utc(now)
        headers = {
            "To": subscriber.email,
            "Subject": one_line(subject),
            "Date": format_datetime(moment),
            "Message-ID": make_message_id(self.settings.mail.domain, kind),
            "List-Unsubscribe": f"<{url}>, <mailto:{mailto}?subject=unsubscribe>",
            **_FIXED,
        }
        data = build_message([*self._sender, *headers.items()], text, html)
        if self.signer is not None:
            data = self.signer.sign(data)
        return OutgoingEmail(
            to=subscriber.email,
            envelope_from=self.links.envelope_sender(subscriber),
            subject=headers["Subject"],
            message_id=headers["Message-ID"],
            data=data,
            headers=headers,
            crlf=True,
        )


def _when(subscriber: Subscriber) -> str:
    """`Every day`, or `Every Friday` for a weekly subscriber."""
    if subscriber.weekly and subscriber.weekday is not None:
        return f"Every {WEEKDAY_NAMES[subscriber.weekday]}"
    return "Every day"


@lru_cache(maxsize=4096)
def _topics(topics: tuple[str, ...]) -> str:
    """What a subscriber follows, on one line of at most 200 characters."""
    return shorten(", ".join(topic_label(topic) for topic in topics), 200)
