"""Feedback votes: a subscriber's 👍 / 👎 on a paper, and reading them back for ranking.

One row per (subscriber, paper); the latest vote wins. A like is a 👍 (`source` "vote") or
a paper added from the subscriber's library (`source` "library", see store.library).
`feedback_for` hands the delivery stage the papers each subscriber liked and disliked,
newest first and capped, and which likes came from the library, so the ranking can pull
similar papers up and push them down. `vote_counts` and `forget_votes` count and delete a
subscriber's 👍/👎 votes, never their library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from digest.errors import NotFound, UsageError
from digest.records import Paper
from digest.store.engine import among, rows_changed
from digest.store.papers import to_paper
from digest.store.schema import FeedbackRow, PaperRow, SubscriberRow

MAX_VOTES_PER_SUBSCRIBER = 100
_CHUNK = 500  # subscriber ids per query, well under any driver's parameter limit


@dataclass(slots=True)
class Votes:
    """One subscriber's likes and dislikes, newest first; `library`: the ids (paper keys)
    of the liked papers that came from their library."""

    liked: list[Paper] = field(default_factory=list)
    disliked: list[Paper] = field(default_factory=list)
    library: set[str] = field(default_factory=set)


def remember_liked_state(row: FeedbackRow, paper: PaperRow) -> None:
    """Note on a like what the paper looks like now, so later changes are news."""
    row.liked_version = paper.version
    row.liked_with_code = paper.code_url is not None
    row.liked_upvotes = paper.upvotes


def record_vote(
    session: Session,
    subscriber_id: int,
    paper_id: int,
    vote: int,
    *,
    now: datetime | None = None,
) -> Paper:
    """Store (or change) a vote of +1 or -1, or 0 to withdraw it; returns the paper voted on."""
    if vote not in (-1, 0, 1):
        raise UsageError(f"a vote is +1, -1 or 0, not {vote}")
    paper = session.get(PaperRow, paper_id)
    if paper is None or session.get(SubscriberRow, subscriber_id) is None:
        raise NotFound("that paper or subscriber no longer exists")
    row = session.get(FeedbackRow, (subscriber_id, paper_id))
    if vote == 0:
        if row is not None:
            session.delete(row)
    elif row is None:
        row = FeedbackRow(
            subscriber_id=subscriber_id,
            paper_id=paper_id,
            vote=vote,
            created_at=now or datetime.now(UTC),
            source="vote",
        )
        remember_liked_state(row, paper)
        session.add(row)
    else:
        if row.vote != vote:
            row.source = "vote"
            remember_liked_state(row, paper)
        row.vote = vote
        row.created_at = now or datetime.now(UTC)
    session.flush()
    return to_paper(paper)


def vote_of(session: Session, subscriber_id: int, paper_id: int) -> int:
    """The subscriber's current vote on the paper: +1, -1 or 0 for none."""
    row = session.get(FeedbackRow, (subscriber_id, paper_id))
    return row.vote if row is not None else 0


def feedback_for(
    session: Session,
    subscriber_ids: Sequence[int],
    *,
    limit: int = MAX_VOTES_PER_SUBSCRIBER,
) -> dict[int, Votes]:
    """For each subscriber id: the papers liked and disliked, newest first.

    Every requested id is in the result, with empty lists when it has no votes; at most
    `limit` votes per subscriber are returned.
    """
    result: dict[int, Votes] = {sid: Votes() for sid in subscriber_ids}
    ids = list(result)
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(FeedbackRow.subscriber_id, FeedbackRow.vote, FeedbackRow.source, PaperRow)
            .join(PaperRow, PaperRow.id == FeedbackRow.paper_id)
            .where(among(session, FeedbackRow.subscriber_id, ids[start : start + _CHUNK]))
            .order_by(FeedbackRow.created_at.desc(), PaperRow.id.desc())
        )
        for subscriber_id, vote, source, paper in session.execute(query):
            votes = result[subscriber_id]
            if len(votes.liked) + len(votes.disliked) >= limit:
                continue
            record = to_paper(paper)
            (votes.liked if vote > 0 else votes.disliked).append(record)
            if vote > 0 and source == "library":
                votes.library.add(record.id)
    return result


def vote_counts(session: Session, subscriber_id: int) -> tuple[int, int]:
    """How many papers the subscriber voted 👍 and 👎 on (library papers are not votes)."""
    query = (
        select(FeedbackRow.vote, func.count())
        .where(FeedbackRow.subscriber_id == subscriber_id, FeedbackRow.source == "vote")
        .group_by(FeedbackRow.vote)
    )
    counts = {int(vote): int(n) for vote, n in session.execute(query)}
    return counts.get(1, 0), counts.get(-1, 0)


def forget_votes(session: Session, subscriber_id: int) -> int:
    """Delete the subscriber's 👍/👎 votes; their library stays. Returns how many went."""
    result = session.execute(
        delete(FeedbackRow).where(
            FeedbackRow.subscriber_id == subscriber_id, FeedbackRow.source == "vote"
        )
    )
    return rows_changed(result)
