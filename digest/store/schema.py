"""The database schema: SQLAlchemy 2.0 typed models, one class per table.

Alembic migrations in `alembic/versions/` must match these models exactly; a test runs
autogenerate against them and expects no difference.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

StrList = JSON()


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class PaperRow(Base):
    """One paper, whatever listed it. `key` is the canonical key (see records.FeedEntry)."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(40), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    doi: Mapped[str | None] = mapped_column(String(300), index=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(StrList, default=list)
    categories: Mapped[list[str]] = mapped_column(StrList, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(40))
    keywords: Mapped[list[str]] = mapped_column(StrList, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    abs_url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    project_url: Mapped[str | None] = mapped_column(Text)
    hf_url: Mapped[str | None] = mapped_column(Text)
    # Hugging Face Daily Papers' one-line summary of the paper, when it gives one.
    ai_summary: Mapped[str | None] = mapped_column(Text)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    stars: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # The day a listing announced the paper (arXiv's, a feed's); see store.browse.
    announced_on: Mapped[date | None] = mapped_column(Date, index=True)
    # First met as a replacement or looked up by id: never a digest candidate.
    old_news: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    featured_on: Mapped[date | None] = mapped_column(Date, index=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The paper's sentence vector (float32, little-endian; see store.vectors) and the id of
    # the model that made it: a vector of another model is recomputed, never compared.
    # Deferred: only ranking reads it.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(String(200))


class TopicVectorRow(Base):
    """The sentence vector of a topic as subscribers write it, per model (migration 0009).

    Shared by every subscriber with that topic; computed once, when a subscriber saves it."""

    __tablename__ = "topic_vectors"

    topic: Mapped[str] = mapped_column(Text, primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PaperListingRow(Base):
    """Which source listed a paper, first and last time, and how (new, cross, replace …)."""

    __tablename__ = "paper_listings"

    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    announce_type: Mapped[str | None] = mapped_column(String(40))
    first_listed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_listed_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "source", "last_listed_at"),)


class SourceStateRow(Base):
    """Per-source fetch state: HTTP validators and the last outcome."""

    __tablename__ = "source_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # URL → [ETag, Last-Modified] of each URL the source fetched last time.
    validators: Mapped[dict[str, list[str | None]] | None] = mapped_column(JSON)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def new_link_secret() -> str:
    """A subscriber's random link secret: 128 bits, URL-safe (see `digest.tokens`)."""
    return secrets.token_urlsafe(16)


class SubscriberRow(Base):
    """A subscriber. `email` is normalised (see store.subscribers.normalise_email).

    Ids are never reused (AUTOINCREMENT on SQLite, an identity column on PostgreSQL), and
    `link_secret` binds every link and VERP address to this row: erasing the row destroys
    it, and signing up anew replaces it (migration 0006).
    """

    __tablename__ = "subscribers"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    topics: Mapped[list[str]] = mapped_column(StrList, default=list)
    categories: Mapped[list[str]] = mapped_column(StrList, default=list)
    authors: Mapped[list[str]] = mapped_column(StrList, default=list)
    exclude: Mapped[list[str]] = mapped_column(StrList, default=list)
    timezone: Mapped[str] = mapped_column(String(64))
    send_at: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    # `daily` or `weekly`; a weekly digest goes out on `weekday` (0 Monday … 6 Sunday).
    frequency: Mapped[str] = mapped_column(String(10), default="daily", server_default="daily")
    weekday: Mapped[int | None] = mapped_column(Integer)
    # Digests kept for the feed and the archive only, not emailed.
    feed_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    link_secret: Mapped[str] = mapped_column(String(32), default=new_link_secret)


# The conditions of the ledger's partial indexes (a query repeats them to use the index).
QUEUE_CONDITION = "status IN ('queued', 'retry')"
LEASE_CONDITION = "lease_owner IS NOT NULL"


class DeliveryRow(Base):
    """The delivery ledger: one row per subscriber and local digest date."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    digest_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    # The papers the message carries, in order, as JSON [[paper id, score, reason], …]:
    # written when the row turns `sending`, kept when it ends sent or unknown. One column
    # instead of a row per paper (migration 0003); they are only ever read per delivery.
    items: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("subscriber_id", "digest_date"),
        # The queue: claimable rows only, so claims and counts never walk finished ones.
        Index(
            "ix_deliveries_queue",
            "next_attempt_at",
            sqlite_where=text(QUEUE_CONDITION),
            postgresql_where=text(QUEUE_CONDITION),
        ),
        # Leased rows only: a heartbeat, a lookup by owner, the rows a worker is sending.
        Index(
            "ix_deliveries_lease_owner",
            "lease_owner",
            sqlite_where=text(LEASE_CONDITION),
            postgresql_where=text(LEASE_CONDITION),
        ),
        Index(None, "digest_date", "status"),
    )


class SentPaperRow(Base):
    """Every paper a subscriber has received, so nobody gets the same paper twice."""

    __tablename__ = "sent_papers"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key to papers: papers are never deleted (migration 0002).
    paper_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_on: Mapped[date] = mapped_column(Date)


class SuppressionRow(Base):
    """Addresses never mailed again (hard bounces, complaints, operator's list)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FeedbackRow(Base):
    """A subscriber's vote on a paper: +1 liked, -1 disliked. The latest vote wins.

    `source` says where a like came from: `vote` (👍 in a digest) or `library` (a paper
    the subscriber added from their own library). The `liked_*` columns are what the paper
    looked like when it was liked (version, whether it had code, Hugging Face upvotes), so
    later changes can be told apart as news (see store.updates).
    """

    __tablename__ = "feedback"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    vote: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(20), default="vote", server_default="vote")
    liked_version: Mapped[int | None] = mapped_column(Integer)
    liked_with_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    liked_upvotes: Mapped[int | None] = mapped_column(Integer)


class UpdateNoticeRow(Base):
    """An update on a liked paper put into a subscriber's digest of `digest_date`.

    `kind` is `code`, `version` or `upvotes`; `value` what was told (the version number,
    the upvote count, or the code link). Together with the ledger row of that digest it
    says whether the subscriber has been told (see store.updates).
    """

    __tablename__ = "update_notices"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EventRow(Base):
    """An audit trail of things that happened to addresses: confirmations sent, bounces,
    unsubscribes, resends. Rate limits and `digest stats` count these."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(None, "kind", "created_at"),
        Index(None, "email", "kind", "created_at"),
    )
