"""What `digest fetch` runs and prints: the pipeline call and the per-source summary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict

from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine

from digest.cli.app import App
from digest.pipeline.fetch import fetch_all
from digest.rank.embed import SentenceModel
from digest.records import SourceReport
from digest.sources.http import new_client


def run_fetch(
    app: App, engine: Engine, only: Sequence[str], model: SentenceModel
) -> tuple[list[SourceReport], int]:
    """Fetch the chosen sources (all when `only` is empty) with a fresh HTTP client, then
    embed the new papers, with a progress bar that advances as each source is done and as
    papers are embedded. Returns the reports and how many papers were embedded."""
    settings = app.settings
    total = len(only) or len(settings.sources)
    embedded = [0]

    async def run() -> list[SourceReport]:
        with Progress(console=app.err, disable=app.progress_hidden, transient=True) as bar:
            task = bar.add_task("Fetching sources", total=total)

            def done(report: SourceReport) -> None:
                bar.update(task, advance=1, description=f"Fetched {report.name}")

            def embedding(count: int, papers: int) -> None:
                embedded[0] = count
                description = f"Embedding {papers:,} papers"
                bar.update(task, completed=count, total=papers, description=description)

            async with new_client() as client:
                return await fetch_all(
                    settings,
                    engine,
                    client,
                    only=only,
                    on_report=done,
                    model=model,
                    on_embedding=embedding,
                )

    return asyncio.run(run()), embedded[0]


def status_text(report: SourceReport) -> str:
    if report.error:
        return report.error
    if report.not_modified:
        return "ok (not modified)"
    if report.fetched == 0:
        return "ok (no entries)"
    return "ok"


def print_reports(app: App, reports: Sequence[SourceReport], fmt: str) -> None:
    """A table (or JSON) of the reports; failures also go to stderr, even with --quiet."""
    if fmt == "json":
        rows = [{**asdict(r), "ok": r.error is None} for r in reports]
        app.console.print_json(json.dumps(rows))
    elif not app.quiet:
        table = Table("source", "fetched", "new", "updated", "unchanged", "status")
        for r in reports:
            style = "red" if r.error else None
            table.add_row(
                r.name,
                *(str(n) for n in (r.fetched, r.new, r.updated, r.unchanged)),
                status_text(r),
                style=style,
            )
        app.console.print(table if reports else "No sources configured.")
    for r in reports:
        if r.error:
            app.err.print(f"source {r.name}: {r.error}", soft_wrap=True)
