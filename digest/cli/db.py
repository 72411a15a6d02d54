"""`digest db …`: schema migrations."""

from __future__ import annotations

import click

from digest.cli.app import App, cli, pass_app
from digest.store import migrations


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
    engine = app.engine(migrated=False)
    click.echo(f"database: {migrations.current_revision(engine) or 'empty'}")
    click.echo(f"code:     {migrations.head_revision(engine)}")
