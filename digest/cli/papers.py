"""`digest fetch` and `digest rank`: bring papers in, and rank papers against profiles."""

from __future__ import annotations

import time
from pathlib import Path

import click

from digest.cli.app import App, cli, format_option, pass_app, read_text_file


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Fetch only this configured source (repeatable).",
)
@format_option("json")
@pass_app
def fetch(app: App, sources: tuple[str, ...], fmt: str) -> None:
    """Fetch the configured sources now and store new papers, with their sentence vectors.

    Prints a per-source summary; exits 3 when some source failed (the others are stored).
    New papers are embedded once they are stored (well under a minute for a 700-paper day
    on two cores).

    \b
    Example:
      digest fetch --source arxiv-ai
    """
    from digest.cli.fetch_report import print_reports, run_fetch

    model = app.sentence_model(load=True)
    started = time.perf_counter()
    reports, embedded = run_fetch(app, app.engine(), sources, model)
    print_reports(app, reports, fmt)
    if fmt == "table" and embedded:
        seconds = time.perf_counter() - started
        app.say(f"Embedded {embedded:,} papers with {model.model_id} ({seconds:.0f} s in all).")
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
@click.option(
    "--top",
    type=click.IntRange(1, 1000),
    help="At most this many papers a profile (default: digest.max_items).",
)
@pass_app
def rank(app: App, papers: Path, profiles: Path, top: int | None) -> None:
    """Rank papers against topic profiles without a database; prints JSONL.

    Papers and topics are embedded with the sentence model first (well under a minute for
    a 700-paper day on two cores).

    One line per profile, in input order: {"profile", "ranked": [paper ids, best first,
    only those that would go into the digest], "scores", "reasons"}. Exits 2 on a bad
    input line.

    \b
    Example:
      digest rank --papers day.jsonl --profiles profiles.jsonl --top 10
    """
    from digest.rank import build_index, rank_profiles
    from digest.rank.jsonl import parse_papers, parse_profiles, picks_line
    from digest.rank.vectors import embed_run

    day = parse_papers(_read_lines(papers), source=papers.name)
    wanted = parse_profiles(_read_lines(profiles), source=profiles.name)
    max_items = top if top is not None else app.settings.digest.max_items
    day_vectors, vectors = embed_run(app.sentence_model(load=True).load(), day, wanted)
    index = build_index(day, vectors=day_vectors)
    results = rank_profiles(index, wanted, max_items=max_items, vectors=vectors)
    for profile, picks in zip(wanted, results, strict=True):
        click.echo(picks_line(profile, picks))


def _read_lines(path: Path) -> list[str]:
    return read_text_file(path).splitlines()
