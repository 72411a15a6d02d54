"""Composing digests: store → rank (with the stored sentence vectors) → render.

`DigestComposer` turns ledger claims into finished emails for the delivery (`prepare`), and
`compose_digest` is one subscriber's digest as `digest preview` shows it, from the database
as it is now, nothing sent or recorded.

One candidate set and one paper index per run (the index is reused across runs while the
candidate set and its vectors are unchanged), one vectorised ranking call and one
sent-papers query per batch. The ranking uses the stored sentence vectors of the papers,
the topics and the liked papers (`stored_vectors`), exactly as `digest rank` uses the ones
it computes. Weekly subscribers are ranked the same way against a second, week-long candidate
set: each gets the best papers first seen since their previous digest (at most a week),
up to `digest.max_items_weekly`. The delivery loop calls `prepare` on each claimed batch,
in a thread or in helper processes (`digest.pipeline.preparers`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from digest.config import Settings
from digest.pipeline.embed import configured_model
from digest.pipeline.stored_vectors import StoredVectors
from digest.rank import PaperIndex, build_index, rank_profiles
from digest.rank.embed import SentenceModel
from digest.rank.vectors import Vectors
from digest.records import (
    TRENDING_REASON,
    Claim,
    Digest,
    Item,
    Paper,
    Pick,
    Prepared,
    Profile,
    Subscriber,
)
from digest.render.renderer import Renderer
from digest.send.due import end_of_local_day, local_date, send_instant, zone
from digest.store.archive import previous_digest_dates
from digest.store.delivery_reads import sent_paper_ids
from digest.store.engine import transaction
from digest.store.feedback import feedback_for
from digest.store.papers import candidate_papers, trending_papers
from digest.store.subscribers import get_subscriber
from digest.store.updates import record_notices, updates_for

CANDIDATE_DAYS = 3  # a paper first seen in the last three days can still make a digest
WEEK = 7  # a weekly digest looks back to the previous digest, at most this many days
TRENDING_ITEMS = 3
PreviewFormat = Literal["html", "text", "eml"]
# What becomes of a composed digest: see `DigestComposer.fate`.
Fate = Literal["skipped", "published", "mailed"]


class DigestComposer:
    """Turns ledger claims into finished emails: one candidate set and one index per run
    (reused across runs while the candidate set is unchanged), one vectorised ranking call
    and one sent-papers query per batch."""

    _index_cache: dict[tuple[object, ...], PaperIndex] = {}  # noqa: RUF012 - per process, two entries

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        now: datetime,
        model: SentenceModel | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.now = now
        self.model = model or configured_model(settings)
        self.vectors = StoredVectors(engine, self.model)
        self.renderer = Renderer(settings)
        with transaction(engine) as session:
            self.candidates = candidate_papers(session, since=now - timedelta(days=CANDIDATE_DAYS))
            self.trending = trending_papers(
                session, since=now.date() - timedelta(days=CANDIDATE_DAYS), limit=20
            )
        self.keys = {p.db_id: p.id for p in self.candidates + self.trending if p.db_id}
        self._index: PaperIndex | None = None
        self._week: tuple[list[Paper], PaperIndex] | None = None

    def _cached_index(self, papers: Sequence[Paper]) -> PaperIndex:
        vectors = self.vectors.paper_matrix(papers)
        seen = b"" if vectors is None else hashlib.blake2b(vectors.tobytes()).digest()
        key = (*(p.db_id or 0 for p in papers), seen)
        cache = DigestComposer._index_cache
        if key not in cache:
            if len(cache) >= 2:  # the day's and the week's candidates
                cache.clear()
            cache[key] = build_index(papers, vectors=vectors)
        return cache[key]

    @property
    def index(self) -> PaperIndex:

        if self._index is None:
            self._index = self._cached_index(self.candidates)
        return self._index

    @property
    def week(self) -> tuple[list[Paper], PaperIndex]:
        """The weekly candidates (first seen in the last week and a day) and their index."""
        if self._week is None:
            with transaction(self.engine) as session:
                papers = candidate_papers(session, since=self.now - timedelta(days=WEEK + 1))
            self.keys.update((p.db_id, p.id) for p in papers if p.db_id)
            self._week = (papers, self._cached_index(papers))
        return self._week

    def digests(self, subscribers: Sequence[tuple[Subscriber, date]]) -> list[Digest]:
        """The digest of each (subscriber, local date): best picks not sent before; weekly
        subscribers' from the papers first seen since their previous digest."""

        weekly = [n for n, (sub, _) in enumerate(subscribers) if sub.weekly]
        week = self.week if weekly else None
        ids = [sub.id for sub, _ in subscribers]
        with transaction(self.engine) as session:
            sent = sent_paper_ids(session, ids, list(self.keys))
            votes = feedback_for(session, ids)
            since = self._windows(session, [subscribers[n] for n in weekly])
            updates = updates_for(session, [(sub.id, day) for sub, day in subscribers])
        profiles = [
            Profile(
                str(sub.id),
                sub.topics,
                sub.categories,
                sub.authors,
                sub.exclude,
                tuple(votes[sub.id].liked),
                tuple(votes[sub.id].disliked),
                frozenset(votes[sub.id].library),
            )
            for sub, _ in subscribers
        ]
        indexes = ([self.index] if self.candidates and len(weekly) < len(subscribers) else []) + (
            [week[1]] if week is not None else []
        )
        vectors = (
            self.vectors.for_profiles(profiles)
            if any(index.vectors is not None for index in indexes)
            else Vectors()
        )
        # Never a paper they have: sent before, or liked (a library paper may be new today).
        skip = [{self.keys[i] for i in sent[sid]} | {p.id for p in votes[sid].liked} for sid in ids]
        ranked: list[list[Pick]] = [[] for _ in profiles]
        weekly_set = set(weekly)
        daily = [n for n in range(len(subscribers)) if n not in weekly_set]
        if self.candidates and daily:
            max_items = self.settings.digest.max_items
            picks = rank_profiles(
                self.index,
                [profiles[n] for n in daily],
                max_items=max_items,
                skip=[skip[n] for n in daily],
                vectors=vectors,
            )
            for n, chosen in zip(daily, picks, strict=True):
                ranked[n] = chosen
        if week is not None and week[0]:
            for n, start in zip(weekly, since, strict=True):
                skip[n] |= {p.id for p in week[0] if p.first_seen and p.first_seen < start}
            picks = rank_profiles(
                week[1],
                [profiles[n] for n in weekly],
                max_items=self.settings.digest.max_items_weekly,
                skip=[skip[n] for n in weekly],
                vectors=vectors,
            )
            for n, chosen in zip(weekly, picks, strict=True):
                ranked[n] = chosen
        first_days = dict(zip(weekly, since, strict=True))
        return [
            Digest(
                sub,
                day,
                tuple(picks),
                self._trending(picks, skip[n]),
                since=_covered_from(first_days[n], sub) if n in first_days else None,
                updates=tuple(updates[sub.id]),
            )
            for n, ((sub, day), picks) in enumerate(zip(subscribers, ranked, strict=True))
        ]

    def _windows(
        self, session: Session, weekly: Sequence[tuple[Subscriber, date]]
    ) -> list[datetime]:
        """When each weekly digest's window opens: the send time of the subscriber's previous
        digest, or of the same weekday a week ago if that is later (or there was none)."""
        previous: dict[tuple[int, date], date] = {}
        for day in {day for _, day in weekly}:
            ids = [sub.id for sub, on in weekly if on == day]
            for subscriber_id, last in previous_digest_dates(session, ids, day).items():
                previous[subscriber_id, day] = last
        starts = []
        for sub, day in weekly:
            week_ago = day - timedelta(days=WEEK)
            first = max(previous.get((sub.id, day), week_ago), week_ago)
            starts.append(send_instant(first, sub.send_at, sub.timezone))
        return starts

    def _trending(self, picks: Sequence[Pick], skip: set[str]) -> tuple[Paper, ...]:
        """The most upvoted trending papers that are neither picks nor papers the subscriber
        has (`skip`), at most `TRENDING_ITEMS`; none on a day without picks."""
        if not picks:
            return ()
        taken = skip | {pick.paper.id for pick in picks}
        fresh = [p for p in self.trending if p.id not in taken]
        return tuple(fresh[:TRENDING_ITEMS])

    def fate(self, digest: Digest) -> Fate:
        """What becomes of a composed digest, in a delivery and in its dry run alike:
        skipped when nothing matched and `digest.skip_when_empty` is on; published (kept for
        the feed and the archive, not emailed) for a feed-only subscriber; mailed otherwise."""
        if not digest.picks and self.settings.digest.skip_when_empty:
            return "skipped"
        if digest.subscriber.feed_only:
            return "published"
        return "mailed"

    def prepare(self, claims: Sequence[Claim]) -> list[Prepared]:
        """Rank and render a claimed batch (in a thread of the delivery loop, or in a helper
        process: see `digest.pipeline.preparers`)."""

        digests = self.digests([(c.subscriber, c.digest_date) for c in claims])
        prepared = []
        for claim, digest in zip(claims, digests, strict=True):
            items = tuple(
                Item(p.paper.db_id or 0, p.score, p.reason, p.topic) for p in digest.picks
            )
            items += tuple(Item(p.db_id or 0, 0.0, TRENDING_REASON) for p in digest.trending)
            fate = self.fate(digest)
            if fate == "skipped":
                prepared.append(Prepared(claim, None, (), "nothing new matched the topics"))
                continue
            if fate == "published":
                reason = "feed only: kept for the feed and the archive, not emailed"
                prepared.append(Prepared(claim, None, items, reason, status="published"))
                continue
            email = self.renderer.render_digest(digest, now=self.now)
            prepared.append(Prepared(claim, email, items))
        self._note_updates([d for d, p in zip(digests, prepared, strict=True) if p.email])
        return prepared

    def _note_updates(self, digests: Sequence[Digest]) -> None:
        """Remember which updates the prepared messages carry (told once they are sent)."""
        told = [d for d in digests if d.updates]
        if not told:
            return
        with transaction(self.engine) as session:
            for digest in told:
                record_notices(
                    session,
                    digest.subscriber.id,
                    digest.digest_date,
                    digest.updates,
                    now=self.now,
                )


def _covered_from(start: datetime, subscriber: Subscriber) -> date:
    """The first local day a weekly digest covers: the day its window opens."""
    return start.astimezone(zone(subscriber.timezone)).date()


def compose_digest(
    settings: Settings,
    engine: Engine,
    email: str,
    digest_date: date | None = None,
    *,
    now: datetime | None = None,
) -> Digest:
    """The digest `email` would get for `digest_date` (default: today where they live),
    from the database as it is now; nothing is sent or recorded (`digest preview`)."""

    with transaction(engine) as session:
        subscriber = get_subscriber(session, email)
    now = now or datetime.now(UTC)
    day = digest_date or local_date(now, subscriber.timezone)
    moment = min(now, end_of_local_day(day, subscriber.timezone) - timedelta(seconds=1))
    if digest_date is not None and digest_date < local_date(now, subscriber.timezone):
        moment = datetime.combine(day, time(23, 59), tzinfo=UTC)
    return DigestComposer(settings, engine, now=moment).digests([(subscriber, day)])[0]


def preview_digest(
    settings: Settings,
    engine: Engine,
    email: str,
    digest_date: date | None = None,
    *,
    fmt: PreviewFormat = "html",
) -> tuple[Digest, bytes]:
    """`digest preview`: the digest `compose_digest` composes, rendered as its HTML part,
    its text part or the whole message (`eml`); nothing is sent or recorded."""
    digest = compose_digest(settings, engine, email, digest_date)
    renderer = Renderer(settings)
    if fmt == "html":
        return digest, renderer.digest_html(digest).encode()
    if fmt == "text":
        return digest, renderer.digest_text(digest).encode()
    return digest, renderer.render_digest(digest).data
