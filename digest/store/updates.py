"""Updates on papers a subscriber liked, and which of them have been told.

An update is news about a liked paper (a 👍 or a library paper) since it was liked:

- `code`: a code link appeared (the paper had none when it was liked);
- `version`: arXiv has a newer version than when it was liked;
- `upvotes`: its Hugging Face upvotes jumped — at least `UPVOTE_JUMP` more than the count
  it had when it was liked (or than the last jump told), and at least double that count.
  A paper with no upvotes when liked counts from 0, so its first 20 upvotes are a jump.

A like remembers the paper's state when it was given (store.feedback). `record_notices`
notes the updates a digest carries (`update_notices`, one row per update: the latest digest
that carried it); an update counts as told once the
digest of that day was handed to the mail server (its ledger row `sent`, or `sending` /
`unknown`, which may have reached the reader), so each update is told once, and one whose
digest failed is told in the next. The digest of the same day, prepared again (a retry),
carries the same updates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from digest.records import LikedUpdate
from digest.store.engine import among, dialect_insert
from digest.store.papers import to_paper
from digest.store.schema import DeliveryRow, FeedbackRow, PaperRow, UpdateNoticeRow

# At least this many more upvotes, and at least double. Set from the Hugging Face daily
# list of 2026-06-12 (30 papers: median 4 upvotes, four with 20 or more: 25, 74, 103,
# 118): 20 is what sets a day's few breakout papers apart from the ordinary ones.
UPVOTE_JUMP = 20
MAX_UPDATES = 3  # lines in one digest; the rest wait for the next
TOLD = ("sent", "sending", "unknown")
_CHUNK = 500

_Told = dict[tuple[int, int, str], list[str]]


def updates_for(
    session: Session, days: Sequence[tuple[int, date]], *, limit: int = MAX_UPDATES
) -> dict[int, list[LikedUpdate]]:
    """For each (subscriber id, digest date): the untold updates on their liked papers, the
    most recently changed papers first, at most `limit` papers (one line each)."""
    result: dict[int, list[LikedUpdate]] = {sid: [] for sid, _ in days}
    on = dict(days)
    ids = list(result)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        told = _told(session, chunk, on)
        query = (
            select(FeedbackRow, PaperRow)
            .join(PaperRow, PaperRow.id == FeedbackRow.paper_id)
            .where(among(session, FeedbackRow.subscriber_id, chunk), FeedbackRow.vote > 0)
            .order_by(PaperRow.changed_at.desc(), PaperRow.id.desc())
        )
        for like, paper in session.execute(query):
            found = result[like.subscriber_id]
            if len(found) < limit:
                update = _update(like, paper, told)
                if update is not None:
                    found.append(update)
    return result


def _told(session: Session, subscriber_ids: list[int], on: dict[int, date]) -> _Told:
    """What each subscriber was told, by (subscriber, paper, kind): the values, from the
    digests of other days that reached the mail server."""
    query = (
        select(UpdateNoticeRow)
        .join(
            DeliveryRow,
            and_(
                DeliveryRow.subscriber_id == UpdateNoticeRow.subscriber_id,
                DeliveryRow.digest_date == UpdateNoticeRow.digest_date,
            ),
        )
        .where(
            among(session, UpdateNoticeRow.subscriber_id, subscriber_ids),
            DeliveryRow.status.in_(TOLD),
        )
    )
    told: _Told = defaultdict(list)
    for notice in session.scalars(query):
        if notice.digest_date != on[notice.subscriber_id]:
            told[notice.subscriber_id, notice.paper_id, notice.kind].append(notice.value)
    return told


def _update(like: FeedbackRow, paper: PaperRow, told: _Told) -> LikedUpdate | None:
    key = (like.subscriber_id, paper.id)
    code = paper.code_url
    if like.liked_with_code or told.get((*key, "code")):
        code = None
    version = None
    if paper.version is not None and like.liked_version is not None:
        seen = max([like.liked_version, *(int(v) for v in told.get((*key, "version"), ()))])
        version = paper.version if paper.version > seen else None
    upvotes = None
    if paper.upvotes is not None:
        base = max([like.liked_upvotes or 0, *(int(v) for v in told.get((*key, "upvotes"), ()))])
        if paper.upvotes >= base + UPVOTE_JUMP and paper.upvotes >= 2 * base:
            upvotes = paper.upvotes
    if code is None and version is None and upvotes is None:
        return None
    return LikedUpdate(to_paper(paper), code_url=code, version=version, upvotes=upvotes)


def record_notices(
    session: Session,
    subscriber_id: int,
    digest_date: date,
    updates: Sequence[LikedUpdate],
    *,
    now: datetime,
) -> None:
    """Note that the digest of `digest_date` carries `updates` (see the module docstring)."""
    rows = [
        {
            "subscriber_id": subscriber_id,
            "paper_id": update.paper.db_id,
            "kind": kind,
            "value": value,
            "digest_date": digest_date,
            "created_at": now,
        }
        for update in updates
        if update.paper.db_id is not None
        for kind, value in _told_values(update)
    ]
    if not rows:
        return
    statement = dialect_insert(session)(UpdateNoticeRow)
    # Carried again (the digest that carried it before never reached them): the latest
    # digest is the one that counts.
    statement = statement.on_conflict_do_update(
        index_elements=["subscriber_id", "paper_id", "kind", "value"],
        set_={
            "digest_date": statement.excluded.digest_date,
            "created_at": statement.excluded.created_at,
        },
    )
    session.execute(statement, rows)


def _told_values(update: LikedUpdate) -> list[tuple[str, str]]:
    values = []
    if update.code_url:
        values.append(("code", "code"))
    if update.version is not None:
        values.append(("version", str(update.version)))
    if update.upvotes is not None:
        values.append(("upvotes", str(update.upvotes)))
    return values
