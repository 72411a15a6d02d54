"""Turning ledger claims into finished emails: `DigestComposer` (store → rank → render).

One candidate set and one paper index per run (the index is reused across runs while the
candidate set is unchanged), one vectorised ranking call and one sent-papers query per
batch. The delivery loop calls `prepare` on each claimed batch, in a thread or in helper
processes (`digest.preparers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from digest.config import Settings
from digest.rank import PaperIndex, build_index, rank_profiles
from digest.records import Digest, Paper, Pick, Profile, Subscriber
from digest.render.renderer import Renderer
from digest.send.loop import Prepared
from digest.store.deliveries import Claim, Item, sent_paper_ids
from digest.store.engine import transaction
from digest.store.feedback import feedback_for
from digest.store.papers import candidate_papers, trending_papers

CANDIDATE_DAYS = 3  # a paper first seen in the last three days can still make a digest
TRENDING_ITEMS = 3
TRENDING_REASON = "Trending on Hugging Face"


class DigestComposer:
    """Turns ledger claims into finished emails: one candidate set and one index per run
    (reused across runs while the candidate set is unchanged), one vectorised ranking call
    and one sent-papers query per batch."""

    _index_cache: dict[tuple[int, ...], PaperIndex] = {}  # noqa: RUF012 - per process, one entry

    def __init__(self, settings: Settings, engine: Engine, *, now: datetime) -> None:

        self.settings = settings
        self.engine = engine
        self.now = now
        self.renderer = Renderer(settings)
        with transaction(engine) as session:
            self.candidates = candidate_papers(session, since=now - timedelta(days=CANDIDATE_DAYS))
            self.trending = trending_papers(
                session, since=now.date() - timedelta(days=CANDIDATE_DAYS), limit=20
            )
        self.keys = {p.db_id: p.id for p in self.candidates + self.trending if p.db_id}
        self._index: PaperIndex | None = None

    @property
    def index(self) -> PaperIndex:

        if self._index is None:
            key = tuple(p.db_id or 0 for p in self.candidates)
            cache = DigestComposer._index_cache
            if key not in cache:
                cache.clear()
                cache[key] = build_index(self.candidates)
            self._index = cache[key]
        return self._index

    def digests(self, subscribers: Sequence[tuple[Subscriber, date]]) -> list[Digest]:
        """The digest of each (subscriber, local date): best picks not sent before."""

        ids = [sub.id for sub, _ in subscribers]
        with transaction(self.engine) as session:
            sent = sent_paper_ids(session, ids, list(self.keys))
            votes = feedback_for(session, ids)
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
        # Never a paper they have: sent before, or liked (a library paper may be new today).
        skip = [{self.keys[i] for i in sent[sid]} | {p.id for p in votes[sid].liked} for sid in ids]
        ranked: list[list[Pick]] = [[] for _ in profiles]
        if self.candidates:
            max_items = self.settings.digest.max_items
            ranked = rank_profiles(self.index, profiles, max_items=max_items, skip=skip)
        return [
            Digest(sub, day, tuple(picks), self._trending(picks, skip[n]))
            for n, ((sub, day), picks) in enumerate(zip(subscribers, ranked, strict=True))
        ]

    def _trending(self, picks: Sequence[Pick], skip: set[str]) -> tuple[Paper, ...]:
        if not picks:
            return ()
        taken = skip | {pick.paper.id for pick in picks}
        fresh = [p for p in self.trending if p.id not in taken]
        return tuple(fresh[:TRENDING_ITEMS])

    def prepare(self, claims: Sequence[Claim]) -> list[Prepared]:
        """Rank and render a claimed batch (in a thread of the delivery loop, or in a helper
        process: see `digest.preparers`)."""

        digests = self.digests([(c.subscriber, c.digest_date) for c in claims])
        prepared = []
        for claim, digest in zip(claims, digests, strict=True):
            items = tuple(Item(p.paper.db_id or 0, p.score, p.reason) for p in digest.picks)
            items += tuple(Item(p.db_id or 0, 0.0, TRENDING_REASON) for p in digest.trending)
            if not digest.picks and self.settings.digest.skip_when_empty:
                prepared.append(Prepared(claim, None, (), "nothing new matched the topics"))
                continue
            email = self.renderer.render_digest(digest, now=self.now)
            prepared.append(Prepared(claim, email, items))
        return prepared
