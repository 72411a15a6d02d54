"""Keeping sentence vectors in the store (rank's model → store): papers after a fetch, a
topic when a subscriber saves it, whatever is missing (`digest db embed`), and a topic the
delivery finds without one.

The model is a `rank.embed.SentenceModel`, passed in. Texts are embedded outside any
transaction and stored a chunk at a time, so a long run never holds the database's write
lock (on SQLite, the whole file's) and an interrupted one keeps what it had done.

    embed_recent_papers(engine, model, now=now)          # after every fetch
    remember_topics(engine, model, subscriber.topics)    # after every save of a profile
    embed_missing(engine, model, now=now)                 # `digest db embed`
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import ConfigError, DatabaseUnavailable
from digest.rank.embed import SentenceModel, paper_text
from digest.store.engine import transaction
from digest.store.vectors import (
    PaperText,
    papers_to_embed,
    store_paper_vectors,
    store_topic_vectors,
    subscriber_topics,
    topic_vectors,
)

log = logging.getLogger("digest.embedding")

# Papers a digest can still pick: a weekly digest's candidates, first seen in the last week
# and a day (`compose.WEEK` + 1); a daily digest's are a subset.
RECENT = timedelta(days=8)
CHUNK = 32  # papers embedded between two commits
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class EmbedReport:
    """What an embedding run did: papers and topics embedded, and how long it took."""

    model_id: str
    papers: int = 0
    topics: int = 0
    seconds: float = 0.0


def configured_model(settings: Settings) -> SentenceModel:
    """The model `[rank]` names (not loaded yet)."""
    return SentenceModel(settings.rank.model_dir, threads=settings.rank.threads)


def embed_papers(
    engine: Engine,
    model: SentenceModel,
    *,
    since: datetime | None = None,
    voted: bool = False,
    every: bool = False,
    ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Embed the papers that have no vector of the model (see `store.vectors.papers_to_embed`
    for which), `CHUNK` papers a transaction; returns how many. A set `stop` ends the run
    after the chunk at hand."""
    with transaction(engine) as session:
        todo = papers_to_embed(
            session, model.model_id, since=since, voted=voted, every=every, ids=ids
        )
    if not todo:
        return 0
    embedder = model.load()
    if progress is not None:
        progress(0, len(todo))
    done = 0
    for start in range(0, len(todo), CHUNK):
        if stop is not None and stop.is_set():
            break
        chunk = todo[start : start + CHUNK]
        vectors = embedder.embed([_text(paper) for paper in chunk])
        with transaction(engine) as session:
            found = {paper.db_id: row for paper, row in zip(chunk, vectors, strict=True)}
            store_paper_vectors(session, embedder.model_id, found)
        done += len(chunk)
        if progress is not None:
            progress(done, len(todo))
    return done


def embed_recent_papers(
    engine: Engine,
    model: SentenceModel,
    *,
    now: datetime,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """After a fetch: every paper a digest can still pick that has no vector of the model
    (the fetch's new papers, revised ones, and any a failed run or a model change left)."""
    return embed_papers(engine, model, since=now - RECENT, progress=progress, stop=stop)


async def embed_after_fetch(
    engine: Engine, model: SentenceModel, *, now: datetime, progress: Progress | None = None
) -> int:
    """Embed the papers a digest can pick that have no vector, in a thread; stops between
    two chunks when cancelled. A failure is logged: the papers stay stored, and the next
    fetch (or `digest db embed`) embeds them."""
    stop = threading.Event()

    def work() -> int:
        return embed_recent_papers(engine, model, now=now, progress=progress, stop=stop)

    try:
        count = await asyncio.to_thread(work)
    except asyncio.CancelledError:
        stop.set()
        raise
    except DatabaseUnavailable:
        raise
    except Exception:
        log.exception("embedding the fetched papers failed; they rank by their words until then")
        return 0
    if count:
        log.info("embedded %d papers", count, extra={"papers": count, "model": model.model_id})
    return count


def remember_topics(
    engine: Engine, model: SentenceModel, topics: Iterable[str]
) -> dict[str, np.ndarray]:
    """The vectors of `topics`: those stored, and the others embedded now and stored."""
    wanted = [t for t in dict.fromkeys(topics) if t.strip()]
    if not wanted:
        return {}
    with transaction(engine) as session:
        found = topic_vectors(session, wanted, model.model_id)
    missing = [t for t in wanted if t not in found]
    if missing:
        fresh = dict(zip(missing, model.embed(missing), strict=True))
        with transaction(engine) as session:
            store_topic_vectors(session, model.model_id, fresh, now=datetime.now(UTC))
        found.update(fresh)
    return found


def remember_topics_quietly(engine: Engine, model: SentenceModel, topics: Iterable[str]) -> None:
    """`remember_topics` for a page or mail handler: a model that cannot load is logged,
    not shown to the subscriber (the delivery embeds the topic when it needs it)."""
    try:
        remember_topics(engine, model, topics)
    except ConfigError as exc:
        log.error("topics saved without their sentence vectors: %s", exc)


def embed_missing(
    engine: Engine,
    model: SentenceModel,
    *,
    now: datetime,
    every: bool = False,
    progress: Progress | None = None,
    topic_progress: Progress | None = None,
) -> EmbedReport:
    """`digest db embed`: every subscriber's topics, the papers a digest can still pick and
    every liked or disliked paper (with `every`: all papers) that lack a vector of the
    model."""
    started = time.perf_counter()
    report = EmbedReport(model.load().model_id)
    with transaction(engine) as session:
        topics = subscriber_topics(session)
        stored = set(topic_vectors(session, topics, model.model_id))
    missing = [t for t in topics if t not in stored]
    for start in range(0, len(missing), CHUNK * 8):
        remember_topics(engine, model, missing[start : start + CHUNK * 8])
        if topic_progress is not None:
            topic_progress(min(start + CHUNK * 8, len(missing)), len(missing))
    report.topics = len(missing)
    report.papers = embed_papers(
        engine, model, since=now - RECENT, voted=True, every=every, progress=progress
    )
    report.seconds = time.perf_counter() - started
    return report


def _text(paper: PaperText) -> str:
    return paper_text(paper.title, paper.abstract)
