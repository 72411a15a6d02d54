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
from digest.pipeline import fetch_all
from digest.records import SourceReport
from digest.sources.http import new_client


def run_fetch(app: App, engine: Engine, only: Sequence[str]) -> list[SourceReport]:
    """Fetch the chosen sources (all when `only` is empty) with a fresh HTTP client, with a
    progress bar that advances as each source is done."""
    settings = app.settings
    total = len(only) or len(settings.sources)

    async def run() -> list[SourceReport]:
        with Progress(console=app.err, disable=app.progress_hidden, transient=True) as bar:
            task = bar.add_task("Fetching sources", total=total)

            def done(report: SourceReport) -> None:
                bar.update(task, advance=1, description=f"Fetched {report.name}")

            async with new_client() as client:
                return await fetch_all(settings, engine, client, only=only, on_report=done)

    return asyncio.run(run())


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
