"""`digest subscribers …`: add, change, list and remove subscribers."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from digest.cli.app import App, cli, format_option, pass_app, read_text_file, write_output
from digest.cli.db import embed_topics
from digest.errors import NotFound, UsageError
from digest.pipeline.embed import remember_topics
from digest.pipeline.signup import request_confirmation
from digest.records import Subscriber
from digest.send.transport import make_transport
from digest.store.engine import transaction
from digest.store.imports import (
    ImportRejected,
    all_subscribers,
    apply_import,
    parse_csv,
    plan_import,
    write_csv,
)
from digest.store.subscribers import (
    SubscriberInput,
    get_subscriber,
    list_subscribers,
    remove_subscriber,
    set_status,
    upsert_subscriber,
    weekday_code,
)


def subscriber_dict(sub: Subscriber) -> dict[str, Any]:
    return {
        "email": sub.email,
        "status": sub.status,
        "topics": list(sub.topics),
        "categories": list(sub.categories),
        "authors": list(sub.authors),
        "exclude": list(sub.exclude),
        "timezone": sub.timezone,
        "send_at": sub.send_at.strftime("%H:%M"),
        "frequency": sub.frequency,
        "weekday": weekday_code(sub.weekday),
        "feed_only": sub.feed_only,
        "created_at": sub.created_at.isoformat() if sub.created_at else None,
        "confirmed_at": sub.confirmed_at.isoformat() if sub.confirmed_at else None,
    }


@cli.group()
def subscribers() -> None:
    """Manage subscribers.

    \b
    Example:
      digest subscribers add ada@example.org --topic "speculative decoding" --confirmed
      digest subscribers list --format json
    """


def _profile_options(func: Any) -> Any:
    options = [
        click.option("--topic", "topics", multiple=True, help="A topic phrase (repeatable)."),
        click.option(
            "--category",
            "categories",
            multiple=True,
            help="An arXiv category to restrict to or boost, e.g. cs.CL (repeatable).",
        ),
        click.option(
            "--author",
            "authors",
            multiple=True,
            help="An author to follow; their papers always qualify (repeatable).",
        ),
        click.option(
            "--exclude",
            "exclude",
            multiple=True,
            help="A word or phrase whose papers are left out (repeatable).",
        ),
        click.option("--timezone", help="IANA time zone, e.g. Europe/Berlin."),
        click.option("--send-at", help="Local send time, HH:MM (24-hour)."),
        click.option(
            "--frequency",
            type=click.Choice(["daily", "weekly"], case_sensitive=False),
            help="Daily digests (the default) or one weekly digest.",
        ),
        click.option(
            "--weekday",
            metavar="DAY",
            help="The day a weekly digest goes out: mon, tue, … sun (default mon).",
        ),
        click.option(
            "--feed-only/--email",
            "feed_only",
            default=None,
            help="Keep digests in the subscriber's feed and archive only, or email them "
            "(the default).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@subscribers.command()
@click.argument("email")
@_profile_options
@click.option(
    "--confirmed",
    is_flag=True,
    help="Mark the address as confirmed (active) instead of sending a confirmation.",
)
@pass_app
def add(app: App, email: str, confirmed: bool, **fields: Any) -> None:
    """Add a subscriber, or update one with the same address.

    \b
    Example:
      digest subscribers add ada@example.org --topic "gaussian splatting" \\
          --topic "neural rendering" --timezone Europe/London --send-at 07:30 --confirmed
      digest subscribers add bo@example.org --topic "program synthesis" \\
          --frequency weekly --weekday mon --confirmed
    """
    data = SubscriberInput(email=email, status="active" if confirmed else None, **fields).validate()
    settings = app.settings
    model = app.checked_model()
    if not confirmed and not _already_subscribed(app, data.email):
        outcome = asyncio.run(_request_confirmation(app, data))
        app.say(_CONFIRMATION_OUTCOMES[outcome].format(email=data.email))
        return
    with transaction(app.engine()) as session:
        sub, created = upsert_subscriber(
            session,
            data,
            default_timezone=settings.digest.default_timezone,
            default_send_at=settings.digest.default_send_at,
        )
    remember_topics(app.engine(), model, sub.topics)
    verb = "Added" if created else "Updated"
    app.say(f"{verb} {sub.email} ({_state(sub)}): {', '.join(sub.topics) or '-'}")


def _state(sub: Subscriber) -> str:
    """`active`, or `active, weekly on fri` when the digests are not the daily email."""
    schedule = _schedule(sub)
    return sub.status if schedule == "daily" else f"{sub.status}, {schedule}"


def _schedule(sub: Subscriber) -> str:
    """`daily`, `weekly on mon`, plus `, feed only` when digests are not emailed."""
    when = f"weekly on {weekday_code(sub.weekday)}" if sub.weekly else sub.frequency
    return when + (", feed only" if sub.feed_only else "")


@subscribers.command()
@click.argument("email")
@_profile_options
@pass_app
def update(app: App, email: str, **fields: Any) -> None:
    """Change an existing subscriber: only the options given change (a repeated option such
    as --topic replaces that whole list). Sends nothing.

    \b
    Example:
      digest subscribers update ada@example.org --topic "diffusion models" --send-at 06:45
      digest subscribers update ada@example.org --frequency weekly --weekday fri
    """
    schedule = {key: fields.pop(key) for key in ("frequency", "weekday", "feed_only")}
    model = app.checked_model()
    with transaction(app.engine()) as session:
        current = get_subscriber(session, email)
        merged = {
            key: value if value not in (None, ()) else getattr(current, key)
            for key, value in fields.items()
        }
        if merged["send_at"] is current.send_at:
            merged["send_at"] = current.send_at.strftime("%H:%M")
        data = SubscriberInput(email=current.email, **merged, **schedule).validate()
        sub, _ = upsert_subscriber(
            session,
            data,
            default_timezone=current.timezone,
            default_send_at=current.send_at.strftime("%H:%M"),
        )
    remember_topics(app.engine(), model, sub.topics)
    app.say(f"Updated {sub.email} ({_state(sub)}): {', '.join(sub.topics) or '-'}")


_CONFIRMATION_OUTCOMES = {
    "sent": "Sent a confirmation email to {email}; it stays pending until the link is opened.",
    "active": "{email} is already subscribed; nothing sent.",
    "throttled": "{email} already got 3 confirmation emails in the last day; nothing sent.",
    "suppressed": "{email} is on the suppression list (bounces or complaints); nothing sent.",
}


def _already_subscribed(app: App, email: str) -> bool:
    with transaction(app.engine()) as session:
        try:
            return get_subscriber(session, email).status in ("active", "paused")
        except NotFound:
            return False


async def _request_confirmation(app: App, data: SubscriberInput) -> str:
    transport = make_transport(app.settings)
    try:
        return await request_confirmation(
            app.settings, app.engine(), transport, data, model=app.sentence_model()
        )
    finally:
        await transport.close()


@subscribers.command(name="list")
@format_option("json", "csv")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "active", "paused", "unsubscribed", "bounced"]),
    help="Only subscribers with this status (repeatable).",
)
@pass_app
def list_(app: App, fmt: str, statuses: tuple[str, ...]) -> None:
    """List subscribers.

    \b
    Example:
      digest subscribers list --status active --format json
    """
    with transaction(app.engine()) as session:
        subs = list_subscribers(session, statuses)
    if fmt == "json":
        click.echo(json.dumps([subscriber_dict(s) for s in subs], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        write_csv(sys.stdout, subs)
    else:
        table = Table("email", "status", "topics", "timezone", "send at", "digests")
        for s in subs:
            table.add_row(
                Text(s.email),
                s.status,
                Text("; ".join(s.topics)),
                s.timezone,
                s.send_at.strftime("%H:%M"),
                _schedule(s),
            )
        app.console.print(table)
        app.say(f"{len(subs)} subscriber(s)")


@subscribers.command()
@click.argument("email")
@pass_app
def show(app: App, email: str) -> None:
    """Show one subscriber as JSON.

    \b
    Example:
      digest subscribers show ada@example.org
    """
    with transaction(app.engine()) as session:
        sub = get_subscriber(session, email)
    click.echo(json.dumps(subscriber_dict(sub), ensure_ascii=False, indent=2))


@subscribers.command()
@click.argument("email")
@pass_app
def remove(app: App, email: str) -> None:
    """Delete a subscriber and their delivery history.

    \b
    Example:
      digest subscribers remove ada@example.org
    """
    with transaction(app.engine()) as session:
        remove_subscriber(session, email)
    app.say(f"Removed {email}.")


def _status_command(name: str, status: str, doc: str) -> None:
    @subscribers.command(name=name, help=doc)
    @click.argument("email")
    @pass_app
    def command(app: App, email: str) -> None:
        with transaction(app.engine()) as session:
            sub = set_status(session, email, status)
        app.say(f"{sub.email} is now {sub.status}.")


_status_command(
    "pause",
    "paused",
    "Stop sending to a subscriber until resumed.\n\n"
    "\b\nExample:\n  digest subscribers pause ada@example.org",
)
_status_command(
    "resume",
    "active",
    "Send to a paused subscriber again.\n\n"
    "\b\nExample:\n  digest subscribers resume ada@example.org",
)


@subscribers.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@pass_app
def import_(app: App, file: Path, dry_run: bool) -> None:
    """Import subscribers from CSV: every row is checked first, then all are imported or none.

    Header: email,topics,categories,authors,exclude,timezone,send_at,status,frequency,weekday,
    feed_only (only email is required; frequency daily or weekly, weekday mon … sun, feed_only
    yes or no); several values in
    one cell are separated by ";" (write \\; for a ";" inside a value). New subscribers are
    active unless their status cell says otherwise; existing ones are updated. A file
    `export` wrote imports back unchanged. Exits 2, naming the line, on a malformed file or
    bad rows.

    \b
    Example:
      digest subscribers import subscribers.csv --dry-run
      digest subscribers import subscribers.csv
    """
    text = read_text_file(file, encoding="utf-8-sig", newline="")
    total = max(text.count("\n") - 1, 1)
    with Progress(console=app.err, disable=app.progress_hidden, transient=True) as bar:
        task = bar.add_task("Checking rows", total=total)
        try:
            rows = parse_csv(text, progress=lambda n: bar.update(task, completed=n))
        except ImportRejected as exc:
            problems = exc.problems
            error = f"{file.name}: {exc}"
        except UsageError as exc:
            problems, error = [], f"{file.name}: {exc}"
        else:
            problems, error = [], ""
    if error:
        for problem in problems[1:21]:
            app.err.print(f"{file.name}: line {problem.line}: {problem.reason}", markup=False)
        raise UsageError(error)
    settings = app.settings
    model = app.checked_model()
    with transaction(app.engine()) as session:
        plan = plan_import(session, rows)
        if not dry_run:
            apply_import(
                session,
                plan,
                default_timezone=settings.digest.default_timezone,
                default_send_at=settings.digest.default_send_at,
            )
    table = Table("", "subscribers", title="Dry run: nothing written" if dry_run else None)
    for label, items in (
        ("new", plan.new),
        ("updated", plan.changed),
        ("unchanged", plan.unchanged),
    ):
        table.add_row(label, str(len(items)))
    if not dry_run:
        embed_topics(app, model, [t for data in (*plan.new, *plan.changed) for t in data.topics])
    if not app.quiet:
        app.console.print(table)
        if dry_run:
            for data in plan.new[:20]:
                app.console.print(f"+ {data.email}", markup=False)
            for data in plan.changed[:20]:
                app.console.print(f"~ {data.email}", markup=False)


@subscribers.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
@pass_app
def export(app: App, output: Path | None) -> None:
    """Export all subscribers as CSV, in the format `import` reads.

    Every cell is quoted, and a cell a spreadsheet would take for a formula (one starting
    with =, +, -, @, a tab or a carriage return) gets a ' in front, which `import` removes.

    \b
    Example:
      digest subscribers export --output subscribers.csv
    """
    with transaction(app.engine()) as session:
        subs = all_subscribers(session)
    if output is None:
        write_csv(sys.stdout, subs)
        return
    buffer = io.StringIO(newline="")
    write_csv(buffer, subs)
    write_output(output, buffer.getvalue().encode())
    app.say(f"Wrote {len(subs)} subscriber(s) to {output}")
