"""`digest stats` and `digest check`: how the service is doing, and whether it can work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich.table import Table

from digest.checks import (
    CheckResult,
    check_base_url,
    check_database,
    check_dkim,
    check_smtp,
)
from digest.cli.app import App, cli, pass_app
from digest.errors import ConfigError
from digest.store.engine import transaction
from digest.store.stats import gather_figures


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(1, 365),
    default=7,
    show_default=True,
    help="How many days back to count.",
)
@pass_app
def stats(app: App, days: int) -> None:
    """Print figures: subscribers by status, deliveries by day and state, papers per source
    per day, bounces and unsubscribes, and the state of each source.

    \b
    Example:
      digest stats --days 14
    """
    with transaction(app.engine()) as session:
        figures = gather_figures(session, days=days)
    out = app.console
    table = Table("status", "subscribers", title="Subscribers")
    for status, n in figures.subscribers.items():
        table.add_row(status, f"{n:,}")
    out.print(table)
    states = ("sent", "skipped", "queued", "sending", "retry", "failed", "unknown")
    table = Table("local date", *states, title=f"Deliveries, last {days} days")
    for day, counts in figures.deliveries.items():
        table.add_row(day.isoformat(), *(f"{counts.get(s, 0):,}" for s in states))
    out.print(table)
    table = Table("day", "source", "papers listed", title=f"Papers, last {days} days")
    for (source, day), n in figures.papers.items():
        table.add_row(day.isoformat(), source, f"{n:,}")
    out.print(table)
    table = Table("source", "last success", "last error", title="Sources")
    for src in figures.sources:
        table.add_row(src.name, _when(src.last_success_at), src.last_error or "")
    out.print(table)
    bounces = figures.suppressions.get("bounce", 0)
    total = sum(figures.suppressions.values())
    out.print(
        f"Suppressed addresses: {total:,} ({bounces:,} bounced); "
        f"unsubscribes in the last {days} days: {figures.unsubscribes:,}"
    )


def _print_result(app: App, result: CheckResult) -> None:
    mark = "[green]✓[/green]" if result.ok else "[red]✗[/red]"
    line = f"{mark} {result.name}: {result.detail}"
    if result.hint and not result.ok:
        line += f"\n    hint: {result.hint}"
    app.console.print(line, soft_wrap=True)


@cli.command()
@pass_app
def check(app: App) -> None:
    """Check the configuration, the database, the SMTP server (connect, EHLO, STARTTLS, AUTH;
    nothing is sent), the DKIM key (and print its DNS record) and the base URL.

    Exits 2 if any check fails.

    \b
    Example:
      digest --config /etc/digest/digest.toml check
    """
    try:
        settings = app.settings
    except ConfigError as exc:
        _print_result(app, CheckResult(False, "configuration", str(exc), "fix the key named"))
        raise click.exceptions.Exit(2) from None
    origin = str(settings.config_file) if settings.config_file else "built-in defaults"
    results = [CheckResult(True, "configuration", f"valid ({origin})")]
    results.append(check_database(app.engine(migrated=False)))
    results.append(asyncio.run(check_smtp(settings)))
    results.append(check_dkim(settings))
    results.append(check_base_url(settings))
    for result in results:
        _print_result(app, result)
    if not all(r.ok for r in results):
        raise click.exceptions.Exit(2)
