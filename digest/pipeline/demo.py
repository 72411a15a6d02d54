"""`digest demo` end to end: the bundled sample day stored and embedded, one subscriber, and
their digest composed, rendered and written to the outbox (never to a real SMTP server).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from digest.config import Settings
from digest.demo import DEMO_TOPICS, sample_entries
from digest.pipeline.compose import compose_digest
from digest.pipeline.embed import embed_recent_papers, remember_topics
from digest.rank.embed import SentenceModel
from digest.records import Digest, OutgoingEmail
from digest.render.renderer import Renderer
from digest.send.transport import OutboxTransport
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, upsert_subscriber


@dataclass(frozen=True, slots=True)
class DemoRun:
    """What the demo did: papers loaded, the digest, the message and where they went."""

    papers: int
    digest: Digest
    message: OutgoingEmail
    html_path: Path
    outbox: Path


async def run_demo(
    settings: Settings, engine: Engine, model: SentenceModel, email: str, *, now: datetime
) -> DemoRun:
    """Load the sample papers and `email` subscribed to the demo topics, embed both, and
    write their digest to the outbox: as a message, and as `demo-digest.html` beside it."""
    with transaction(engine) as session:
        counts = ingest_entries(session, sample_entries(now), now=now)
        data = SubscriberInput(email=email, topics=DEMO_TOPICS, status="active").validate()
        upsert_subscriber(
            session, data, default_timezone="UTC", default_send_at=settings.digest.default_send_at
        )
    embed_recent_papers(engine, model, now=now)
    remember_topics(engine, model, DEMO_TOPICS)
    digest = compose_digest(settings, engine, email, now=now)
    renderer = Renderer(settings)
    message = renderer.render_digest(digest, now=now)
    outbox = settings.outbox_dir
    await OutboxTransport(outbox).send(message)
    html_path = outbox / "demo-digest.html"
    html_path.write_text(renderer.digest_html(digest), encoding="utf-8")
    papers = counts.new + counts.updated + counts.unchanged
    return DemoRun(papers, digest, message, html_path, outbox)
