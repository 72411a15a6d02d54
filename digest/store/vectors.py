"""Sentence vectors in the store: each paper's (`papers.embedding`, with the id of the model
that made it) and each topic's (`topic_vectors`, one row per topic text and model).

A vector is stored as float32 bytes, little-endian. Everything here is per model id: a
vector another model made counts as missing, so changing the configured model re-embeds
rather than mixing two models' spaces. A paper's vector is cleared when its title or
abstract changes (store.papers), so the new text is embedded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import ColumnElement, false, func, or_, select, update
from sqlalchemy.orm import Session

from digest.store.engine import among, dialect_insert
from digest.store.schema import FeedbackRow, PaperRow, SubscriberRow, TopicVectorRow

_CHUNK = 500  # ids or topics per query


@dataclass(frozen=True, slots=True)
class PaperText:
    """What the sentence model reads of a stored paper."""

    db_id: int
    title: str
    abstract: str


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def _missing(model_id: str) -> ColumnElement[bool]:
    return or_(PaperRow.embedding_model.is_(None), PaperRow.embedding_model != model_id)


def papers_to_embed(
    session: Session,
    model_id: str,
    *,
    since: datetime | None = None,
    voted: bool = False,
    every: bool = False,
    ids: Sequence[int] | None = None,
) -> list[PaperText]:
    """Papers without a vector of `model_id`, oldest first: those a digest can still pick
    (first seen at or after `since`, not old news); with `voted`, also the papers
    subscribers liked or disliked (their libraries included); those of `ids` (row ids);
    with `every`, all papers."""
    query = select(PaperRow.id, PaperRow.title, PaperRow.abstract).where(_missing(model_id))
    if not every:
        wanted: list[ColumnElement[bool]] = []
        if since is not None:
            wanted.append((PaperRow.first_seen_at >= since) & (PaperRow.old_news == false()))
        if voted:
            wanted.append(PaperRow.id.in_(select(FeedbackRow.paper_id)))
        if ids:
            wanted.append(among(session, PaperRow.id, ids))
        if not wanted:
            return []
        query = query.where(or_(*wanted))
    rows = session.execute(query.order_by(PaperRow.id))
    return [PaperText(row.id, row.title, row.abstract or "") for row in rows]


def store_paper_vectors(session: Session, model_id: str, vectors: Mapping[int, np.ndarray]) -> None:
    """Keep each paper's (row id) vector, made by `model_id`."""
    values = [
        {"id": db_id, "embedding": to_bytes(vector), "embedding_model": model_id}
        for db_id, vector in vectors.items()
    ]
    if values:
        session.execute(update(PaperRow), values)


def paper_vectors(session: Session, db_ids: Iterable[int], model_id: str) -> dict[int, np.ndarray]:
    """The stored vectors of `model_id` of these papers (row ids); papers without one are
    left out."""
    wanted = list(dict.fromkeys(db_ids))
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(PaperRow.id, PaperRow.embedding).where(
            among(session, PaperRow.id, wanted[start : start + _CHUNK]),
            PaperRow.embedding_model == model_id,
            PaperRow.embedding.is_not(None),
        )
        for db_id, data in session.execute(query):
            if data is not None:
                found[db_id] = from_bytes(data)
    return found


def topic_vectors(session: Session, topics: Iterable[str], model_id: str) -> dict[str, np.ndarray]:
    """The stored vectors of `model_id` of these topics; topics without one are left out."""
    wanted = list(dict.fromkeys(topics))
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(TopicVectorRow.topic, TopicVectorRow.vector).where(
            TopicVectorRow.model_id == model_id,
            among(session, TopicVectorRow.topic, wanted[start : start + _CHUNK]),
        )
        for topic, data in session.execute(query):
            found[topic] = from_bytes(data)
    return found


def store_topic_vectors(
    session: Session, model_id: str, vectors: Mapping[str, np.ndarray], *, now: datetime
) -> None:
    """Keep each topic's vector, made by `model_id` (a topic stored meanwhile by another
    process keeps its row: the same model gives the same vector)."""
    values = [
        {"topic": topic, "model_id": model_id, "vector": to_bytes(vector), "created_at": now}
        for topic, vector in vectors.items()
    ]
    insert = dialect_insert(session)
    for start in range(0, len(values), _CHUNK):
        statement = insert(TopicVectorRow).on_conflict_do_nothing(
            index_elements=["topic", "model_id"]
        )
        session.execute(statement, values[start : start + _CHUNK])


def subscriber_topics(session: Session) -> list[str]:
    """Every distinct topic of every subscriber, in a stable order."""
    topics: set[str] = set()
    for row in session.execute(select(SubscriberRow.topics)):
        topics.update(t for t in row.topics or () if t.strip())
    return sorted(topics)


def topics_without_vectors(session: Session, topics: Sequence[str], model_id: str) -> list[str]:
    """Those of `topics` (in their order, once each) with no vector of `model_id`."""
    stored = set(topic_vectors(session, topics, model_id))
    return [t for t in dict.fromkeys(topics) if t.strip() and t not in stored]


def recent_paper_vectors(
    session: Session, model_id: str, *, now: datetime, window: timedelta
) -> np.ndarray:
    """The stored vectors of `model_id` of the papers a digest can pick from (first seen in
    the `window` up to `now`, not old news), one row each; papers without one are left
    out. When none has one (no fetch lately), those of the `window` up to the newest paper
    that has one."""
    has_vector = (
        PaperRow.old_news == false(),
        PaperRow.embedding_model == model_id,
        PaperRow.embedding.is_not(None),
    )
    found = _vectors_since(session, now - window, has_vector)
    if not len(found):
        newest = session.scalar(select(func.max(PaperRow.first_seen_at)).where(*has_vector))
        if newest is not None:
            found = _vectors_since(session, newest - window, has_vector)
    return found


def _vectors_since(
    session: Session, since: datetime, conditions: Sequence[ColumnElement[bool]]
) -> np.ndarray:
    query = select(PaperRow.embedding).where(PaperRow.first_seen_at >= since, *conditions)
    rows = [from_bytes(data) for data in session.scalars(query) if data is not None]
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
