"""Operator commands: `stats`, `check`, `suppressions`, `export-data`, `erase`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import App, cli, format_option, pass_app, write_output
from digest.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from digest.checks import CheckResult


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
    from rich.table import Table

    from digest.store.engine import transaction
    from digest.store.stats import gather_figures

    with transaction(app.engine()) as session:
        figures = gather_figures(session, days=days)
    out = app.console
    table = Table("status", "subscribers", title="Subscribers")
    for status, n in figures.subscribers.items():
        table.add_row(status, f"{n:,}")
    out.print(table)
    states = ("sent", "published", "skipped", "queued", "sending", "retry", "failed", "unknown")
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
    table = Table("what", "next run", title="Schedule")
    for name, when in _next_fetches(app):
        table.add_row(f"fetch {name}", _when(when))
    table.add_row("next digest due", _when(_next_delivery(app)))
    out.print(table)
    bounces = figures.suppressions.get("bounce", 0)
    total = sum(figures.suppressions.values())
    out.print(
        f"Suppressed addresses: {total:,} ({bounces:,} bounced); "
        f"unsubscribes in the last {days} days: {figures.unsubscribes:,}"
    )


def _next_fetches(app: App) -> list[tuple[str, datetime | None]]:
    from digest.schedule import source_trigger

    now = datetime.now(UTC)
    return [
        (source.name, source_trigger(source).get_next_fire_time(None, now))
        for source in app.settings.sources
    ]


def _next_delivery(app: App) -> datetime | None:
    """The first moment from now a digest falls due: the soonest send time in the coming
    week at which `digest send` would queue someone (a weekly subscriber on their weekday
    only, nobody a second time for one local date)."""
    from digest.send.due import upcoming_sends
    from digest.store.engine import transaction
    from digest.store.queueing import groups_due_on, send_groups

    now = datetime.now(UTC)
    with transaction(app.engine()) as session:
        groups = send_groups(session)
        due_on: dict[date, set[tuple[str, str]]] = {}
        for instant, day, group in upcoming_sends(groups, now):
            if day not in due_on:
                due_on[day] = groups_due_on(session, day, groups)
            if group in due_on[day]:
                return instant
    return None


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
    import asyncio

    from digest.checks import (
        CheckResult,
        check_base_url,
        check_database,
        check_dkim,
        check_smtp,
    )

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


@cli.group()
def suppressions() -> None:
    """Addresses that are never mailed again (hard bounces, complaints, your own list).

    \b
    Example:
      digest suppressions add spamtrap@example.org --reason "known trap"
    """


@suppressions.command(name="list")
@format_option("json")
@pass_app
def suppressions_list(app: App, fmt: str) -> None:
    """List suppressed addresses, newest first.

    \b
    Example:
      digest suppressions list --format json
    """
    from rich.table import Table

    from digest.store.engine import transaction
    from digest.store.suppressions import list_suppressions

    with transaction(app.engine()) as session:
        rows = list_suppressions(session)
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {"email": email, "reason": reason, "source": source, "since": at.isoformat()}
                    for email, reason, source, at in rows
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table("email", "source", "since", "reason")
    for email, reason, source, at in rows:
        table.add_row(email, source, _when(at), reason)
    app.console.print(table)


@suppressions.command(name="add")
@click.argument("email")
@click.option(
    "--reason",
    default="added by the operator",
    show_default=True,
    help="Why the address is suppressed.",
)
@pass_app
def suppressions_add(app: App, email: str, reason: str) -> None:
    """Never mail EMAIL again (its subscriber, if any, is marked bounced).

    \b
    Example:
      digest suppressions add old@example.org --reason "mailbox closed"
    """
    from digest.store.engine import transaction
    from digest.store.suppressions import suppress

    with transaction(app.engine()) as session:
        added = suppress(session, email, reason, source="operator")
    app.say(f"{email} suppressed." if added else f"{email} was already suppressed.")


@suppressions.command(name="remove")
@click.argument("email")
@pass_app
def suppressions_remove(app: App, email: str) -> None:
    """Lift the suppression of EMAIL (resume the subscriber to mail them again).

    \b
    Example:
      digest suppressions remove old@example.org
    """
    from digest.store.engine import transaction
    from digest.store.suppressions import unsuppress

    with transaction(app.engine()) as session:
        removed = unsuppress(session, email)
    if not removed:
        raise NotFound(f"{email} is not suppressed")
    app.say(f"{email} is no longer suppressed; `digest subscribers resume {email}` to send again.")


@cli.command(name="export-data")
@click.argument("email")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON to FILE instead of stdout.",
)
@pass_app
def export_data(app: App, email: str, output: Path | None) -> None:
    """Export everything held about one subscriber as JSON (a data access request).

    \b
    Example:
      digest export-data ada@example.org --output ada.json
    """
    from digest.store.engine import transaction
    from digest.store.personal_data import export_subscriber_data
    from digest.store.subscribers import link_identity

    with transaction(app.engine()) as session:
        subscriber_id, _ = link_identity(session, email)
        data = export_subscriber_data(session, subscriber_id)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output:
        write_output(output, (text + "\n").encode())
        app.say(f"Wrote the data of {email} to {output}")
    else:
        click.echo(text)


@cli.command()
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def erase(app: App, email: str, yes: bool) -> None:
    """Erase a subscriber and all their history (deliveries, votes, events).

    A suppression of the address, if any, is kept so it is never mailed again.

    \b
    Example:
      digest erase ada@example.org --yes
    """
    from digest.store.engine import transaction
    from digest.store.signups import erase_subscriber
    from digest.store.subscribers import link_identity

    with transaction(app.engine()) as session:
        subscriber_id, link_secret = link_identity(session, email)
    if not yes:
        click.confirm(f"Erase {email} and all their history? This cannot be undone", abort=True)
    with transaction(app.engine()) as session:
        erase_subscriber(session, subscriber_id, link_secret)
    app.say(f"Erased {email}.")
