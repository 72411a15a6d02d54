"""`digest db …`: schema migrations, and the sentence vectors kept with papers and topics."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from digest.cli.app import App, cli, pass_app


@cli.group()
def db() -> None:
    """Manage the database schema.

    \b
    Example:
      digest db upgrade
    """


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Apply all migrations (SQLite or PostgreSQL); safe to run every start.

    \b
    Example:
      digest --config /etc/digest/digest.toml db upgrade
    """
    from digest.store import migrations

    engine = app.engine(migrated=False)
    before = migrations.current_revision(engine)
    migrations.upgrade(engine)
    after = migrations.current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        app.say(f"Database {where} is up to date (revision {after}).")
    else:
        app.say(f"Database {where} upgraded from {before or 'empty'} to {after}.")


@db.command()
@pass_app
def current(app: App) -> None:
    """Print the schema revision of the database and of the code.

    \b
    Example:
      digest db current
    """
    from digest.store import migrations

    engine = app.engine(migrated=False)
    click.echo(f"database: {migrations.current_revision(engine) or 'empty'}")
    click.echo(f"code:     {migrations.head_revision(engine)}")


@db.command()
@click.option(
    "--all-papers",
    "every",
    is_flag=True,
    help="Embed every stored paper, not only those a digest can still pick or that a "
    "subscriber liked.",
)
@pass_app
def embed(app: App, every: bool) -> None:
    """Compute the sentence vectors that are missing: every subscriber's topics, the papers
    a digest can still pick (first seen in the last 8 days), and the papers subscribers
    liked or disliked (their libraries included).

    Run it after upgrading from a version that kept no vectors or read 256 tokens of a
    paper, and after changing `[rank] model_dir` (vectors of another model are never
    compared, so every paper and topic is embedded again). Safe to run at any time, also
    while the service runs; an interrupted run keeps what it had done. Well under a minute
    for a 700-paper day on two cores.

    \b
    Example:
      digest db embed
      digest db embed --all-papers
    """
    from rich.progress import Progress

    from digest.pipeline.embed import embed_missing

    model = app.sentence_model(load=True)
    engine = app.engine()
    with Progress(console=app.err, disable=app.progress_hidden, transient=True) as bar:
        task = bar.add_task("Embedding topics and papers", total=None)

        def papers(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"Embedding {total:,} papers")

        def topics(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"Embedding {total:,} topics")

        report = embed_missing(
            engine,
            model,
            now=datetime.now(UTC),
            every=every,
            progress=papers,
            topic_progress=topics,
        )
    counted = (
        f"{report.topics:,} topic{'' if report.topics == 1 else 's'} and "
        f"{report.papers:,} paper{'' if report.papers == 1 else 's'}"
    )
    if report.topics or report.papers:
        app.say(f"Embedded {counted} with {report.model_id} in {report.seconds:.1f} s.")
    else:
        app.say(f"Nothing to embed: every vector is there ({report.model_id}).")
