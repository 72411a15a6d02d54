"""`digest demo`: a sent digest in one command, with no network and nothing else running."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from digest.cli.app import App, cli, pass_app


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
    import asyncio

    from digest.demo import DEMO_TOPICS
    from digest.pipeline.demo import run_demo
    from digest.store import migrations

    model = app.sentence_model(load=True)
    engine = app.engine(migrated=False)
    migrations.upgrade(engine)
    run = asyncio.run(run_demo(app.settings, engine, model, email, now=datetime.now(UTC)))
    app.say(f"Loaded {run.papers} sample papers and subscriber {email} ({', '.join(DEMO_TOPICS)}).")
    app.say(f"Their digest has {len(run.digest.picks)} papers: {run.message.subject}")
    app.say(f"Open it in a browser: {run.html_path.resolve()}")
    app.say(f"The message as sent (.eml, for a mail client) is in {run.outbox.resolve()}/")
