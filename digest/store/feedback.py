"""Feedback votes: a subscriber's 👍 / 👎 on a paper, and reading them back for ranking.

One row per (subscriber, paper); the latest vote wins. `feedback_for` hands the delivery
stage the papers each subscriber liked and disliked, newest votes first and capped, so the
ranking can pull similar papers up and push them down.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.errors import NotFound, UsageError
from digest.records import Paper
from digest.store.engine import among
from digest.store.papers import to_paper
from digest.store.schema import FeedbackRow, PaperRow, SubscriberRow

MAX_VOTES_PER_SUBSCRIBER = 100
_CHUNK = 500  # subscriber ids per query, well under any driver's parameter limit


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
        session.add(
            FeedbackRow(
                subscriber_id=subscriber_id,
                paper_id=paper_id,
                vote=vote,
                created_at=now or datetime.now(UTC),
            )
        )
    else:
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
) -> dict[int, tuple[list[Paper], list[Paper]]]:
    """For each subscriber id: (papers liked, papers disliked), newest votes first.

    Every requested id is in the result, with empty lists when it has no votes; at most
    `limit` votes per subscriber are returned.
    """
    result: dict[int, tuple[list[Paper], list[Paper]]] = {sid: ([], []) for sid in subscriber_ids}
    ids = list(result)
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(FeedbackRow.subscriber_id, FeedbackRow.vote, PaperRow)
            .join(PaperRow, PaperRow.id == FeedbackRow.paper_id)
            .where(among(session, FeedbackRow.subscriber_id, ids[start : start + _CHUNK]))
            .order_by(FeedbackRow.created_at.desc(), PaperRow.id.desc())
        )
        for subscriber_id, vote, paper in session.execute(query):
            liked, disliked = result[subscriber_id]
            if len(liked) + len(disliked) < limit:
                (liked if vote > 0 else disliked).append(to_paper(paper))
    return result
