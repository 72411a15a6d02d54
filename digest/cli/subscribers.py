"""`digest subscribers …`: add, change, list and remove subscribers."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click
from rich.table import Table

from digest.cli.app import App, cli, not_implemented, pass_app
from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.subscribers import (
    SubscriberInput,
    get_subscriber,
    list_subscribers,
    remove_subscriber,
    set_status,
    upsert_subscriber,
)

CSV_FIELDS = (
    "email",
    "topics",
    "categories",
    "authors",
    "exclude",
    "timezone",
    "send_at",
    "status",
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
        "created_at": sub.created_at.isoformat() if sub.created_at else None,
        "confirmed_at": sub.confirmed_at.isoformat() if sub.confirmed_at else None,
    }


def csv_row(sub: Subscriber) -> dict[str, str]:
    data = subscriber_dict(sub)
    return {
        key: ";".join(data[key]) if isinstance(data[key], list) else str(data[key])
        for key in CSV_FIELDS
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
    """
    data = SubscriberInput(email=email, status="active" if confirmed else None, **fields).validate()
    settings = app.settings
    with transaction(app.engine()) as session:
        sub, created = upsert_subscriber(
            session,
            data,
            default_timezone=settings.digest.default_timezone,
            default_send_at=settings.digest.default_send_at,
        )
    verb = "Added" if created else "Updated"
    app.say(f"{verb} {sub.email} ({sub.status}): {', '.join(sub.topics) or '-'}")


@subscribers.command(name="list")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format: a table for people, json or csv for scripts.",
)
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
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(s) for s in subs)
    else:
        table = Table("email", "status", "topics", "timezone", "send at")
        for s in subs:
            table.add_row(
                s.email, s.status, "; ".join(s.topics), s.timezone, s.send_at.strftime("%H:%M")
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
@click.argument("file", type=click.Path(dir_okay=False))
def import_(file: str) -> None:
    """Import subscribers from CSV (all rows or none).

    \b
    Example:
      digest subscribers import subscribers.csv
    """
    not_implemented("subscribers import")


@subscribers.command()
@click.option("--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
def export(output: str | None) -> None:
    """Export subscribers as CSV (the import format).

    \b
    Example:
      digest subscribers export --output subscribers.csv
    """
    not_implemented("subscribers export")
