"""`digest serve`, `digest worker`, `digest stats`, `digest check`: running and watching."""

from __future__ import annotations

import contextlib
import signal
import threading

from digest.cli.app import App, cli, not_implemented, pass_app
from digest.store import migrations


@cli.command()
@pass_app
def serve(app: App) -> None:
    """Run the service: web pages and the scheduler (fetch, deliver, housekeeping).

    Migrates the database on start; stops cleanly on SIGTERM or Ctrl-C.

    \b
    Example:
      digest --config /etc/digest/digest.toml serve
    """
    engine = app.engine(migrated=False)
    migrations.upgrade(engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app.say(f"Paper Digest running; database {engine.url.render_as_string(hide_password=True)}")
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    app.say("Stopped.")


@cli.command()
def worker() -> None:
    """Run a delivery worker only (scale-out: many workers on one PostgreSQL).

    \b
    Example:
      digest --config /etc/digest/digest.toml worker
    """
    not_implemented("worker")


@cli.command()
def stats() -> None:
    """Print figures: subscribers by status, recent deliveries, papers per source.

    \b
    Example:
      digest stats
    """
    not_implemented("stats")


@cli.command()
def check() -> None:
    """Check the configuration, database, SMTP server and DKIM key.

    \b
    Example:
      digest check
    """
    not_implemented("check")
