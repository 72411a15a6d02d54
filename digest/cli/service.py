"""`digest serve` and `digest worker`: running the service."""

from __future__ import annotations

import logging

import click

from digest.cli.app import App, cli, pass_app
from digest.errors import UsageError

log = logging.getLogger("digest.service")


@cli.command()
@click.option("--no-web", is_flag=True, help="Do not serve the web pages (and /healthz).")
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Run no scheduled jobs: no fetching, delivering or housekeeping.",
)
@click.option(
    "--no-deliver",
    is_flag=True,
    help="Fetch and serve, but leave delivery to `digest worker` processes.",
)
@click.option("--host", help="Listen on this address (overrides [web] host).")
@click.option("--port", type=click.IntRange(0, 65535), help="Listen on this port ([web] port).")
@click.option(
    "--no-migrate", is_flag=True, help="Refuse to start on an old schema instead of upgrading it."
)
@pass_app
def serve(
    app: App,
    no_web: bool,
    no_scheduler: bool,
    no_deliver: bool,
    host: str | None,
    port: int | None,
    no_migrate: bool,
) -> None:
    """Run the service: web pages, the scheduler (fetch, deliver, housekeeping) and, when
    `[inbound] host` is set, the bounce and unsubscribe mail listener, in one process.

    Upgrades the database on start (unless --no-migrate). Logs one event a line to stdout.
    Stops cleanly on SIGTERM or Ctrl-C: messages being sent are finished, the rest stay
    queued for the next start. Under systemd (Type=notify) it reports READY, a STATUS line
    and watchdog pings.

    \b
    Examples:
      digest --config /etc/digest/digest.toml serve
      digest serve --no-deliver          # with `digest worker` processes delivering
      digest serve --port 8080 --no-scheduler
    """
    import asyncio

    from digest.logs import configure_logging
    from digest.service.process import Roles, run_service
    from digest.store import migrations

    roles = Roles(
        web=not no_web,
        fetch=not no_scheduler,
        deliver=not (no_scheduler or no_deliver),
        housekeeping=not no_scheduler,
        inbound=bool(app.settings.inbound.host),
    )
    settings = app.settings
    if host is not None or port is not None:
        web = settings.web.model_copy(
            update={
                "host": host or settings.web.host,
                "port": settings.web.port if port is None else port,
            }
        )
        settings = settings.model_copy(update={"web": web})
    if not (roles.web or roles.fetch or roles.deliver or settings.inbound.host):
        raise UsageError("nothing to run: drop --no-web or --no-scheduler")
    # Loaded before anything starts: a missing or corrupt model is one line naming the fix.
    model = app.sentence_model(load=True)
    configure_logging(settings)
    engine = app.engine(migrated=False)
    if no_migrate:
        migrations.require_current(engine)
    elif (before := migrations.current_revision(engine)) != migrations.head_revision(engine):
        # Only when behind: a current schema needs no write, so the service also starts on
        # a database it cannot write, serving what it can and saying so on /healthz.
        migrations.upgrade(engine)
        after = migrations.current_revision(engine)
        log.info("database upgraded", extra={"from": before or "empty", "to": after})
    asyncio.run(run_service(settings, engine, roles, model=model))


@cli.command()
@click.option(
    "--id",
    "worker_id",
    metavar="ID",
    help="This worker's name in the delivery ledger's leases (default: HOST:PID:NONCE, "
    "which lets a restart on the same host recover a crashed predecessor's sends at once).",
)
@pass_app
def worker(app: App, worker_id: str | None) -> None:
    """Run a delivery worker only: a delivery tick every minute, nothing else.

    For scale-out: run many against one PostgreSQL database, next to one
    `digest serve --no-deliver`. Needs an up-to-date schema (`digest db upgrade`).
    Stops cleanly on SIGTERM, finishing the messages being sent. Ranks with the stored
    sentence vectors; the model is loaded only to embed a topic that has none yet.

    \b
    Example:
      digest --config /etc/digest/digest.toml worker
    """
    import asyncio

    from digest.logs import configure_logging
    from digest.service.process import Roles, run_service

    settings = app.settings
    model = app.checked_model()  # the model itself loads only if a topic has no vector
    configure_logging(settings)
    engine = app.engine()
    asyncio.run(run_service(settings, engine, Roles.worker(), worker_id=worker_id, model=model))
