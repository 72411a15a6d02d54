"""`digest preview` and `digest send`: render and deliver digests."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import cli, not_implemented


@cli.command()
@click.argument("email")
@click.option(
    "--date",
    "digest_date",
    type=click.DateTime(["%Y-%m-%d"]),
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
def preview(email: str, digest_date: object, fmt: str, output: Path | None) -> None:
    """Render a subscriber's digest without sending or recording anything.

    \b
    Example:
      digest preview ada@example.org --format html --output digest.html
    """
    not_implemented("preview")


@cli.command()
@click.option(
    "--all",
    "send_all",
    is_flag=True,
    help="Every active subscriber not yet served for their current local day.",
)
@click.option("--only", metavar="EMAIL", help="Only this subscriber.")
@click.option(
    "--date",
    "digest_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The local digest date to deliver.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
def send(send_all: bool, only: str | None, digest_date: object, dry_run: bool) -> None:
    """Deliver the digests that are due now.

    \b
    Example:
      digest send --all --dry-run
    """
    not_implemented("send")
