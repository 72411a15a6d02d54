"""What a subscriber's 👍 and 👎 taught their ranking, in words (store → rank.learned).

`what_was_learned` reads the subscriber's votes and the stored sentence vectors, fits the
same model the digest is composed with (`rank.learned.learn`, measured from the mean vector
of the papers the subscriber's digest can pick from now — the last three days', a weekly
digest's last eight — as the composer does) and sums it up: the voted
papers it now scores highest ("more like") and lowest ("less like"), with the vote counts.
Below `weights.LEARN_MIN_VOTES` votes with a sentence vector (or for a subscriber without
topics), there is no model: the votes act as liked and disliked papers. The preferences
page and `digest subscribers votes` show it; forgetting the votes is
`store.feedback.forget_votes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Engine
from threadpoolctl import threadpool_limits

from digest.pipeline.compose import CANDIDATE_DAYS, WEEK
from digest.rank import weights
from digest.rank.learned import Summary, learn, mean_vector, summarise, votes_of
from digest.records import Profile, Subscriber
from digest.store.engine import transaction
from digest.store.feedback import feedback_for, vote_counts
from digest.store.vectors import paper_vectors, recent_paper_vectors

SHOWN = 3  # papers named on each side
DAILY = timedelta(days=CANDIDATE_DAYS)  # the papers a daily digest picks from
WEEKLY = timedelta(days=WEEK + 1)  # and a weekly one


@dataclass(frozen=True)
class Learning:
    """A subscriber's votes and, once the model has taken over, what it learned.

    `liked`, `disliked`: every 👍 and 👎 (library papers are not votes); `readable`: the
    votes the model reads (the most recent, whose paper has a sentence vector); `summary`:
    None while the votes act as liked and disliked papers."""

    liked: int
    disliked: int
    readable: int
    has_topics: bool
    summary: Summary | None

    @property
    def votes(self) -> int:
        return self.liked + self.disliked

    @property
    def min_votes(self) -> int:
        """Votes (with a sentence vector) from which the model takes over."""
        return weights.LEARN_MIN_VOTES

    @property
    def state(self) -> str:
        """`learned`: the model ranks; `no-topics`: votes always act as liked and disliked
        papers (the model corrects a topic's score); `few`: fewer votes than the model
        needs; `unread`: enough votes, but too few of their papers have a sentence vector
        yet."""
        if self.summary is not None:
            return "learned"
        if not self.has_topics:
            return "no-topics"
        return "few" if self.votes < self.min_votes else "unread"


def what_was_learned(
    engine: Engine, subscriber: Subscriber, model_id: str | None, *, now: datetime
) -> Learning:
    """The subscriber's vote counts and what the model of `model_id`'s vectors learned
    (with no model id, as when the model's files are missing: the counts alone)."""
    with transaction(engine) as session:
        liked, disliked = vote_counts(session, subscriber.id)
        votes = feedback_for(session, [subscriber.id])[subscriber.id]
        voted = votes.liked + votes.disliked
        stored: dict[int, np.ndarray] = {}
        day: np.ndarray | None = None
        if model_id is not None:
            stored = paper_vectors(session, [p.db_id for p in voted if p.db_id], model_id)
            window = WEEKLY if subscriber.weekly else DAILY
            day = recent_paper_vectors(session, model_id, now=now, window=window)
    profile = Profile(
        str(subscriber.id),
        subscriber.topics,
        liked=tuple(votes.liked),
        disliked=tuple(votes.disliked),
        library=frozenset(votes.library),
    )
    vectors = {p.id: stored[p.db_id] for p in voted if p.db_id in stored}
    up, down = votes_of(profile)
    readable = sum(p.id in vectors for p in up + down)
    with threadpool_limits(limits=1, user_api="blas"):  # small sums: see rank.select
        model = learn(profile, vectors, None if day is None else mean_vector(day))
    return Learning(liked, disliked, readable, bool(profile.topics), summarise(model, count=SHOWN))
