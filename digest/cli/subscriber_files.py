"""`digest subscribers import` and `export`: subscribers in and out as CSV files."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from digest.cli.app import App, pass_app, read_text_file, write_output
from digest.cli.subscribers import subscribers
from digest.errors import UsageError


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
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from digest.pipeline.profiles import import_subscribers
    from digest.store.imports import ImportRejected, parse_csv

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
    model = app.checked_model()
    with Progress(console=app.err, disable=app.progress_hidden, transient=True) as bar:
        tasks: list[TaskID] = []

        def embedding(done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task(f"Embedding {total:,} topics", total=total))
            bar.update(tasks[0], completed=done)

        plan = import_subscribers(
            app.settings, app.engine(), model, rows, dry_run=dry_run, progress=embedding
        )
    table = Table("", "subscribers", title="Dry run: nothing written" if dry_run else None)
    for label, items in (
        ("new", plan.new),
        ("updated", plan.changed),
        ("unchanged", plan.unchanged),
    ):
        table.add_row(label, str(len(items)))
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
    from digest.store.engine import transaction
    from digest.store.imports import all_subscribers, write_csv

    with transaction(app.engine()) as session:
        subs = all_subscribers(session)
    if output is None:
        write_csv(sys.stdout, subs)
        return
    buffer = io.StringIO(newline="")
    write_csv(buffer, subs)
    write_output(output, buffer.getvalue().encode())
    app.say(f"Wrote {len(subs)} subscriber(s) to {output}")
