"""Builders for the learning-from-votes tests: papers on three subjects stored with the real
sentence model's vectors, a subscriber, and their votes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from digest.rank.embed import Embedder, paper_text
from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.papers import ingest_entries, paper_by_key
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.vectors import store_paper_vectors

NOW = datetime(2026, 5, 7, 9, 0, tzinfo=UTC)
PAPERS = {
    "2605.00001": (
        "Text-to-Image Diffusion with Layout Control",
        "A diffusion model generates images from text prompts, guided by a layout.",
    ),
    "2605.00002": (
        "Faster Sampling for Latent Diffusion Image Generators",
        "Fewer denoising steps for latent diffusion models that generate images.",
    ),
    "2605.00003": (
        "Streaming Speech Recognition on Phones",
        "An end-to-end automatic speech recognition model that transcribes audio on device.",
    ),
    "2605.00004": (
        "Noise-Robust Speech Recognition for Call Centres",
        "Transcribing noisy telephone speech with self-supervised audio encoders.",
    ),
    "2605.00005": (
        "Message Passing Graph Networks for Molecules",
        "Graph neural networks predict molecular properties from atoms and bonds.",
    ),
    "2605.00006": (
        "Unembedded: a Paper the Model Has Not Read",
        "This paper has no sentence vector yet.",
    ),
}
UNEMBEDDED = "2605.00006"


def store_papers(engine: Engine, embedder: Embedder, *, now: datetime = NOW) -> dict[str, int]:
    """The papers above, first seen at `now`, each but one with its real sentence vector;
    returns their row ids by key."""
    entries = [
        FeedEntry(
            source="test",
            key=key,
            title=title,
            abstract=abstract,
            arxiv_id=key,
            abs_url=f"https://arxiv.org/abs/{key}",
        )
        for key, (title, abstract) in PAPERS.items()
    ]
    embedded = [e for e in entries if e.key != UNEMBEDDED]
    vectors = embedder.embed([paper_text(e.title, e.abstract or "") for e in embedded])
    with transaction(engine) as session:
        ingest_entries(session, entries, now=now)
        ids = {e.key: _row_id(session, e.key) for e in entries}
        found = {ids[e.key]: row for e, row in zip(embedded, vectors, strict=True)}
        store_paper_vectors(session, embedder.model_id, found)
    return ids


def _row_id(session: Session, key: str) -> int:
    paper = paper_by_key(session, key)
    assert paper is not None
    assert paper.db_id is not None
    return paper.db_id


def add_reader(engine: Engine, email: str, topics: tuple[str, ...] = ("image generation",)) -> int:
    with transaction(engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(email=email, topics=topics, status="active").validate(),
            default_timezone="UTC",
            default_send_at="07:00",
        )
    return sub.id


def vote(engine: Engine, subscriber_id: int, paper_id: int, value: int) -> None:
    with transaction(engine) as session:
        record_vote(session, subscriber_id, paper_id, value)
