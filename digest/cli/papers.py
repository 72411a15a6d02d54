"""`digest fetch` and `digest rank`: bring papers in, and rank papers against profiles."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import App, cli, not_implemented, pass_app


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Fetch only this configured source (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format: a table for people, json for scripts.",
)
@pass_app
def fetch(app: App, sources: tuple[str, ...], fmt: str) -> None:
    """Fetch the configured sources now and store new papers.

    Prints a per-source summary; exits 3 when some source failed (the others are stored).

    \b
    Example:
      digest fetch --source arxiv-ai
    """
    from digest.cli.fetch_report import print_reports, run_fetch

    reports = run_fetch(app.settings, app.engine(), sources)
    print_reports(app, reports, fmt)
    if any(report.error for report in reports):
        raise click.exceptions.Exit(3)


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
