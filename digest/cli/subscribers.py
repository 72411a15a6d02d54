"""`digest subscribers …`: add, change, list and remove subscribers."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from digest.cli.app import App, cli, format_option, pass_app
from digest.errors import NotFound

if TYPE_CHECKING:
    from digest.records import Subscriber
    from digest.store.subscribers import SubscriberInput


def subscriber_dict(sub: Subscriber) -> dict[str, Any]:
    from digest.store.subscribers import weekday_code

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
            help=(
                "An arXiv category, e.g. cs.CL (repeatable): alone, its papers make the"
                " digest; with topics, a pick in it says so."
            ),
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
    import asyncio

    from digest.pipeline.profiles import save_subscriber
    from digest.store.subscribers import SubscriberInput

    data = SubscriberInput(email=email, status="active" if confirmed else None, **fields).validate()
    model = app.checked_model()
    if not confirmed and not _already_subscribed(app, data.email):
        outcome = asyncio.run(_request_confirmation(app, data))
        app.say(_CONFIRMATION_OUTCOMES[outcome].format(email=data.email))
        return
    sub, created = save_subscriber(app.settings, app.engine(), model, data)
    verb = "Added" if created else "Updated"
    app.say(f"{verb} {sub.email} ({_state(sub)}): {', '.join(sub.topics) or '-'}")


def _state(sub: Subscriber) -> str:
    """`active`, or `active, weekly on fri` when the digests are not the daily email."""
    schedule = _schedule(sub)
    return sub.status if schedule == "daily" else f"{sub.status}, {schedule}"


def _schedule(sub: Subscriber) -> str:
    """`daily`, `weekly on mon`, plus `, feed only` when digests are not emailed."""
    from digest.store.subscribers import weekday_code

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
    from digest.pipeline.profiles import change_subscriber

    model = app.checked_model()
    sub = change_subscriber(app.engine(), model, email, fields)
    app.say(f"Updated {sub.email} ({_state(sub)}): {', '.join(sub.topics) or '-'}")


_CONFIRMATION_OUTCOMES = {
    "sent": "Sent a confirmation email to {email}; it stays pending until the link is opened.",
    "active": "{email} is already subscribed; nothing sent.",
    "throttled": "{email} already got 3 confirmation emails in the last day; nothing sent.",
    "suppressed": "{email} is on the suppression list (bounces or complaints); nothing sent.",
}


def _already_subscribed(app: App, email: str) -> bool:
    from digest.store.engine import transaction
    from digest.store.subscribers import get_subscriber

    with transaction(app.engine()) as session:
        try:
            return get_subscriber(session, email).status in ("active", "paused")
        except NotFound:
            return False


async def _request_confirmation(app: App, data: SubscriberInput) -> str:
    from digest.pipeline.signup import request_confirmation
    from digest.send.transport import make_transport

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
    from rich.table import Table
    from rich.text import Text

    from digest.store.engine import transaction
    from digest.store.imports import write_csv
    from digest.store.subscribers import list_subscribers

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
    from digest.store.engine import transaction
    from digest.store.subscribers import get_subscriber

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
    from digest.store.engine import transaction
    from digest.store.subscribers import remove_subscriber

    with transaction(app.engine()) as session:
        remove_subscriber(session, email)
    app.say(f"Removed {email}.")


def _status_command(name: str, status: str, doc: str) -> None:
    @subscribers.command(name=name, help=doc)
    @click.argument("email")
    @pass_app
    def command(app: App, email: str) -> None:
        from digest.store.engine import transaction
        from digest.store.subscribers import set_status

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
