"""`digest demo`: a sent digest in one command, with no network and nothing else running."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click

from digest.cli.app import App, cli, pass_app
from digest.demo import DEMO_TOPICS, sample_entries
from digest.pipeline.compose import compose_digest
from digest.pipeline.embed import embed_recent_papers, remember_topics
from digest.render.renderer import Renderer
from digest.send.transport import OutboxTransport
from digest.store import migrations
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, upsert_subscriber


@cli.command()
@click.option(
    "--email",
    default="demo@example.org",
    show_default=True,
    help="The demo subscriber's address (nothing is sent to it).",
)
@pass_app
def demo(app: App, email: str) -> None:
    """Load a bundled sample day of papers and one subscriber, and write their digest to the
    outbox directory (never to a real SMTP server), printing where to open it.

    \b
    Example:
      digest demo
    """
    settings = app.settings
    model = app.sentence_model(load=True)
    engine = app.engine(migrated=False)
    migrations.upgrade(engine)
    now = datetime.now(UTC)
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
    asyncio.run(OutboxTransport(outbox).send(message))
    html_path = outbox / "demo-digest.html"
    html_path.write_text(renderer.digest_html(digest), encoding="utf-8")
    app.say(
        f"Loaded {counts.new + counts.updated + counts.unchanged} sample papers and "
        f"subscriber {email} ({', '.join(DEMO_TOPICS)})."
    )
    app.say(f"Their digest has {len(digest.picks)} papers: {message.subject}")
    app.say(f"Open it in a browser: {html_path.resolve()}")
    app.say(f"The message as sent (.eml, for a mail client) is in {outbox.resolve()}/")
