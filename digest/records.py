"""Plain typed records passed between the stages (sources → store → rank → render → send).

No stage hands another an ORM object or a loose dict: it hands one of these. They are frozen
dataclasses with slots (or named tuples), cheap to build by the hundred thousand.

The delivery records follow one ledger row through a run (see `digest.store.deliveries`
for its states): the store leases it as a `Claim`; composing turns the claim into a
`Prepared` message carrying its `Item`s; sending ends in an `Outcome`, which the store
records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal, NamedTuple, get_args

SUBSCRIBER_STATUSES = ("pending", "active", "paused", "unsubscribed", "bounced")
# A ledger row's state: queued → sending → sent | retry | failed | unknown; a day with nothing
# to send is skipped; a feed-only subscriber's digest is published (kept for the feed and the
# archive, not mailed).
DeliveryStatus = Literal[
    "queued", "sending", "sent", "retry", "failed", "unknown", "skipped", "published"
]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
# The states an attempt ends in (a row is `queued` or `sending` only while it is worked on).
OutcomeStatus = Literal["sent", "retry", "failed", "unknown", "skipped", "published"]
# The state of a prepared row that has no message to send.
UnsentStatus = Literal["skipped", "published", "failed"]
# `FeedEntry.announce_type` of a paper fetched by its id (a subscriber's library) rather
# than listed as news: it is stored but never becomes a candidate for a digest.
LOOKED_UP = "lookup"
# The reason a digest's "Trending today" papers carry in the ledger.
TRENDING_REASON = "Trending on Hugging Face"
FREQUENCIES = ("daily", "weekly")
# Weekdays as subscribers write them; a weekday is stored as its index (0 Monday … 6 Sunday).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry as a source listed it, before it is merged into the store.

    `key` is the canonical paper key: the arXiv id without version (`2401.01234`), else
    `doi:<lowercased DOI>`, else `url:<normalised link>`.
    """

    source: str
    key: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    arxiv_id: str | None = None
    version: int | None = None
    doi: str | None = None
    link: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    hf_url: str | None = None
    ai_summary: str | None = None
    announce_type: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    keywords: tuple[str, ...] = ()
    upvotes: int | None = None
    stars: int | None = None
    published: datetime | None = None
    updated: datetime | None = None
    featured_on: date | None = None
    # The listing day that announced the paper as new (None for a replacement listing).
    announced_on: date | None = None


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The outcome of fetching one source: entry counts, and what went wrong if anything."""

    name: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    not_modified: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Paper:
    """A stored paper as ranking and rendering see it. `id` is the canonical key."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    upvotes: int | None = None
    stars: int | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    hf_url: str | None = None
    comment: str | None = None
    db_id: int | None = None
    ai_summary: str | None = None  # Hugging Face's one-line summary, when it gives one
    first_seen: datetime | None = None  # when the store first saw it


@dataclass(frozen=True, slots=True)
class Profile:
    """What one subscriber wants, as ranking sees it.

    `liked` and `disliked` are papers the subscriber voted on (feedback) or added from their
    own library; they may be from earlier days, so they carry their text. `library` holds
    the ids of the `liked` papers that came from the subscriber's library (the others are
    👍 votes), so a reason can say "from your library". `topics` may be empty: a subscriber
    can follow only authors, or only the papers they like.
    """

    id: str
    topics: tuple[str, ...]
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    liked: tuple[Paper, ...] = ()
    disliked: tuple[Paper, ...] = ()
    library: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Pick:
    """One paper chosen for one subscriber, with its score and the reason in words."""

    paper: Paper
    score: float
    reason: str
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class LibraryReference:
    """One paper a subscriber named in a library file or paste, before it is looked up.

    `line` is the 1-based line where it starts in what they gave; `given` is their own
    text (shortened) for messages. At least one of `arxiv_id` (without version) and `doi`
    (lower case) is set.
    """

    line: int
    given: str
    arxiv_id: str | None = None
    doi: str | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscriber as the pipeline, renderer and CLI see it."""

    id: int
    email: str
    status: str
    topics: tuple[str, ...]
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    timezone: str = "UTC"
    send_at: time = time(7, 0)
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    # Links carry the id and are signed with `link_secret`, a random value of this
    # subscriber's row (see `digest.tokens`); `token_version` is what links made before
    # that carried, still checked for them.
    token_version: int = 0
    link_secret: str = ""
    frequency: str = "daily"  # or "weekly", on `weekday` (0 Monday … 6 Sunday)
    weekday: int | None = None
    feed_only: bool = False  # digests go to the feed and archive only, not by email

    @property
    def weekly(self) -> bool:
        return self.frequency == "weekly"


@dataclass(frozen=True, slots=True)
class LikedUpdate:
    """News about a paper the subscriber liked, since they liked it: its code appeared
    (`code_url`), arXiv has a newer `version`, or its Hugging Face `upvotes` jumped. Only
    the news is set; see store.updates for what counts."""

    paper: Paper
    code_url: str | None = None
    version: int | None = None
    upvotes: int | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one digest email shows: the picks of one subscriber for one local date."""

    subscriber: Subscriber
    digest_date: date
    picks: tuple[Pick, ...]
    # Trending papers to show after the picks, as the composer chose them (none of the
    # picks, none the subscriber already has, at most three); the renderer shows them all.
    trending: tuple[Paper, ...] = ()
    # A weekly digest covers the days from `since` to `digest_date`; a daily one has None.
    since: date | None = None
    # Updates on papers they liked: a section of their own, never counted as picks.
    updates: tuple[LikedUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One paper a subscriber was sent, as their feed lists it: when, and why it was picked."""

    digest_date: date
    delivered_at: datetime
    paper: Paper
    reason: str


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A finished message: the bytes to hand to SMTP and the envelope to send them with."""

    to: str
    envelope_from: str
    subject: str
    message_id: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # `data` is in CRLF form throughout: every line ends in CRLF, there is no bare CR or
    # LF. The renderer's messages are, by construction; the SMTP transport then need not
    # look for line ends to fix (a pass over every message in the delivering process).
    crlf: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased ledger row and the subscriber it is for."""

    delivery_id: int
    subscriber: Subscriber
    digest_date: date
    attempts: int


class Item(NamedTuple):
    """One paper a message carries, with its score and why it was picked."""

    paper_id: int
    score: float
    reason: str
    topic: str | None = None  # the topic it was picked for (the archive groups by it)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A claimed row made ready: the message to send, or None and why not."""

    claim: Claim
    email: OutgoingEmail | None
    items: tuple[Item, ...] = ()
    skip_reason: str | None = None
    status: UnsentStatus = "skipped"  # the ledger state when there is nothing to send


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed row."""

    delivery_id: int
    subscriber_id: int
    digest_date: date
    status: OutcomeStatus
    email: str = ""
    message_id: str | None = None
    error: str | None = None
    items: tuple[Item, ...] = ()
    next_attempt_at: datetime | None = None
    suppress: bool = False
