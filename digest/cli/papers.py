"""`digest fetch` and `digest rank`: bring papers in, and rank papers against profiles."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import cli, not_implemented


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Fetch only this configured source (repeatable).",
)
def fetch(sources: tuple[str, ...]) -> None:
    """Fetch the configured sources now and store new papers.

    Prints a per-source summary; exits 3 when some source failed (the others are stored).

    \b
    Example:
      digest fetch --source arxiv-ai
    """
    not_implemented("fetch")


@cli.command()
@click.option(
    "--papers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Papers, one JSON object a line.",
)
@click.option(
    "--profiles",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Profiles, one JSON object a line.",
)
@click.option("--top", type=click.IntRange(1, 1000), help="At most this many papers a profile.")
def rank(papers: Path, profiles: Path, top: int | None) -> None:
    """Rank papers against topic profiles without a database; prints JSONL.

    \b
    Example:
      digest rank --papers day.jsonl --profiles profiles.jsonl --top 10
    """
    not_implemented("rank")
