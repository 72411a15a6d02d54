"""The links and addresses that go into emails: confirm, unsubscribe, preferences, feedback,
the digest on the web (archive) and the private feed.

    links = LinkMaker(settings)
    links.unsubscribe(subscriber)          -> "https://digest.example.org/unsubscribe/…"
    links.mailto_unsubscribe(subscriber)   -> "unsubscribe+…@example.org"
    links.envelope_sender(subscriber)      -> "bounces+…@example.org"   (VERP)
    links.feedback_base(subscriber)        -> "https://digest.example.org/feedback/…/"
                                              (+ "<paper id>/up" or "<paper id>/down")
    links.archive(subscriber, day)         -> "https://digest.example.org/archive/…/2026-07-06"
    links.feed(subscriber)                 -> "https://digest.example.org/feed/…"

Every token is `digest.tokens.make_token`'s: signed for its purpose and bound to the
subscriber's link secret. An email carries one token per purpose; the feedback links of
all its papers share one, with the paper and the vote in the path.
"""

from __future__ import annotations

from datetime import date

from digest.config import Settings
from digest.tokens import LinkOwner, make_token

VOTES = {"up": 1, "down": -1}


class LinkMaker:
    """Builds every URL and address an email carries, for one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.web.base_url.rstrip("/")
        self.domain = settings.mail.domain
        self._secret = settings.secret_key()

    def confirm(self, subscriber: LinkOwner) -> str:
        return f"{self.base_url}/confirm/{make_token(self._secret, 'confirm', subscriber)}"

    def unsubscribe(self, subscriber: LinkOwner) -> str:
        return self.unsubscribe_pair(subscriber)[0]

    def preferences(self, subscriber: LinkOwner) -> str:
        token = make_token(self._secret, "preferences", subscriber)
        return f"{self.base_url}/preferences/{token}"

    def archive(self, subscriber: LinkOwner, day: date | None = None) -> str:
        """The subscriber's digest of `day` on the web (their past digests without a day)."""
        token = make_token(self._secret, "archive", subscriber)
        return f"{self.base_url}/archive/{token}" + (f"/{day.isoformat()}" if day else "")

    def feed(self, subscriber: LinkOwner) -> str:
        """The subscriber's private Atom feed of the papers sent to them."""
        return f"{self.base_url}/feed/{make_token(self._secret, 'feed', subscriber)}"

    def feedback_base(self, subscriber: LinkOwner) -> str:
        """The start of the subscriber's feedback links; add `<paper id>/up` or `/down`."""
        return f"{self.base_url}/feedback/{make_token(self._secret, 'feedback', subscriber)}/"

    def feedback(self, subscriber: LinkOwner, paper_id: int, vote: int) -> str:
        """A one-click vote on a paper: `vote` is +1 (more like this) or -1 (fewer)."""
        return f"{self.feedback_base(subscriber)}{paper_id}/{'up' if vote > 0 else 'down'}"

    def unsubscribe_pair(self, subscriber: LinkOwner) -> tuple[str, str]:
        """(`unsubscribe` URL, `mailto_unsubscribe` address), one token for both."""
        token = make_token(self._secret, "unsubscribe", subscriber)
        return f"{self.base_url}/unsubscribe/{token}", f"unsubscribe+{token}@{self.domain}"

    def mailto_unsubscribe(self, subscriber: LinkOwner) -> str:
        """The address whose mail unsubscribes (the `mailto:` of List-Unsubscribe)."""
        return self.unsubscribe_pair(subscriber)[1]

    def envelope_sender(self, subscriber: LinkOwner) -> str:
        """The VERP return path: a bounce to it names the subscriber."""
        return f"bounces+{make_token(self._secret, 'bounce', subscriber)}@{self.domain}"

    def home(self) -> str:
        return f"{self.base_url}/"
