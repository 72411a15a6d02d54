"""`digest preview`, `digest send` and `digest resend`: render and deliver digests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import App, DateParam, cli, pass_app, write_output

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from digest.pipeline.compose import PreviewFormat
    from digest.send.loop import DeliveryReport

EXIT_PARTIAL = 3


@cli.command()
@click.argument("email")
@click.option(
    "--date",
    "digest_date",
    type=DateParam(),
    help="The local digest date (default: today in the subscriber's time zone).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "text", "eml"]), default="html", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
@pass_app
def preview(
    app: App, email: str, digest_date: date | None, fmt: PreviewFormat, output: Path | None
) -> None:
    """Render a subscriber's digest without sending or recording anything.

    \b
    Example:
      digest preview ada@example.org --format html --output digest.html
    """
    from digest.pipeline.compose import preview_digest

    digest, data = preview_digest(app.settings, app.engine(), email, digest_date, fmt=fmt)
    if output is not None:
        write_output(output, data)
        picks = len(digest.picks)
        app.err.print(f"Wrote {output} ({picks} paper(s) for {digest.subscriber.email}).")
    else:
        click.echo(data.decode(), nl=False)
    if not digest.picks:
        app.err.print(
            f"Nothing new matched {digest.subscriber.email}'s topics for {digest.digest_date}; "
            "with digest.skip_when_empty no email would be sent."
        )


@cli.command()
@click.option(
    "--all",
    "send_all",
    is_flag=True,
    help="Every active subscriber not yet served for their current local day, whatever the hour.",
)
@click.option("--only", metavar="EMAIL", help="Only this subscriber.")
@click.option(
    "--date",
    "digest_date",
    type=DateParam(),
    help="The local digest date to deliver (default: each subscriber's today).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@click.option("--worker-id", hidden=True, help="Lease owner name (default: host:pid:nonce).")
@pass_app
def send(
    app: App,
    send_all: bool,
    only: str | None,
    digest_date: date | None,
    dry_run: bool,
    worker_id: str | None,
) -> None:
    """Deliver the digests that are due now.

    Without --all, a subscriber is due once their local send time has passed today and
    they have not been served today. Safe to run again at any time, also after a crash:
    nobody gets two digests for one day. Exits 3 if any message failed, waits for a retry
    or is in doubt (`unknown`: also rows an interrupted earlier run left being sent).

    \b
    Examples:
      digest send                      # what the scheduler does every minute
      digest send --all --dry-run      # how many would go out now, and to whom not
      digest send --only ada@example.org --all
    """
    import asyncio

    engine = app.engine()
    day = digest_date
    report = asyncio.run(_send(app, engine, day, send_all, only, dry_run, worker_id))
    _print_summary(app, report)
    if not report.ok and not dry_run:
        raise click.exceptions.Exit(EXIT_PARTIAL)


async def _send(
    app: App,
    engine: Engine,
    day: date | None,
    send_all: bool,
    only: str | None,
    dry_run: bool,
    worker_id: str | None,
) -> DeliveryReport:
    import asyncio
    import signal

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from digest.pipeline.deliver import deliver_due
    from digest.send.transport import make_transport

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    transport = make_transport(app.settings)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=app.err, disable=app.progress_hidden, transient=True) as bar:
        task = bar.add_task("Preparing" if dry_run else "Sending", total=None)

        def progress(report: DeliveryReport) -> None:
            bar.update(task, completed=report.done, total=report.total or None)

        try:
            return await deliver_due(
                app.settings,
                engine,
                transport,
                worker_id=worker_id,
                only=only,
                dry_run=dry_run,
                stop=stop,
                all_subscribers=send_all,
                digest_date=day,
                progress=progress,
            )
        finally:
            await transport.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _print_summary(app: App, report: DeliveryReport) -> None:
    from rich.table import Table

    if app.quiet and report.ok:
        return
    table = Table("outcome", "digests", title="Dry run: nothing sent" if report.dry_run else None)
    rows = [
        ("would send" if report.dry_run else "sent", report.sent),
        ("skipped (nothing new)", report.skipped_empty),
    ]
    if report.published:
        rows.append(("published to the feed only", report.published))
    if not report.dry_run:
        rows += [
            ("retry later today", report.retry),
            ("failed", report.failed),
            ("unknown (not resent)", report.unknown),
            ("suppressed address", report.suppressed),
        ]
    for label, count in rows:
        table.add_row(label, str(count))
    app.console.print(table)
    if report.recovered:
        app.say(f"{report.recovered} message(s) interrupted by an earlier crash marked unknown.")
    for message, count in report.errors.most_common(3):
        app.err.print(f"{count} × {message}", markup=False, highlight=False)
    if report.paused:
        app.err.print(f"Delivery {report.paused}", markup=False)


@cli.command()
@click.argument("email")
@click.option(
    "--date",
    "digest_date",
    type=DateParam(),
    required=True,
    help="The local digest date to send again.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def resend(app: App, email: str, digest_date: date, yes: bool) -> None:
    """Send a subscriber's digest for one date again, even though it was already sent.

    The only way a second digest for the same day ever goes out: it asks first, and the
    resend is logged in the subscriber's history. Exits 3 if the message could not be sent.

    \b
    Example:
      digest resend ada@example.org --date 2026-06-02 --yes
    """
    import asyncio

    from digest.store.delivery_outcomes import reopen_delivery
    from digest.store.engine import transaction
    from digest.store.subscribers import get_subscriber, record_event

    engine = app.engine()
    day = digest_date
    with transaction(engine) as session:
        subscriber = get_subscriber(session, email)
    if not yes:
        click.confirm(f"Send the digest of {day} to {subscriber.email} again?", abort=True)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        previous = reopen_delivery(session, subscriber.id, day, now=now)
        record_event(
            session,
            "resend",
            email=subscriber.email,
            subscriber_id=subscriber.id,
            detail=f"{day} (was {previous or 'never queued'})",
            now=now,
        )
    report = asyncio.run(_send(app, engine, day, True, subscriber.email, False, None))
    _print_summary(app, report)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_PARTIAL)
