"""`digest subscribers library EMAIL FILE`: add papers a subscriber likes from their library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.app import App, pass_app
from digest.cli.subscribers import subscribers
from digest.errors import UsageError

if TYPE_CHECKING:
    from digest.pipeline.library import LibraryReport

EXIT_INCOMPLETE = 3


@subscribers.command()
@click.argument("email")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_app
def library(app: App, email: str, file: Path) -> None:
    """Add papers the subscriber likes: arXiv ids or links (new and old style, e.g.
    2401.01234 or hep-th/9901001), DOIs, a BibTeX (.bib), RIS (.ris) or Zotero CSV export,
    or a plain list, one or more a line. FILE `-` reads standard input.

    Papers not stored yet are fetched from the arXiv API (100 ids a request, one request
    every 3 s). They become liked papers: similar new papers rank higher in the digest, and
    the digest tells of their new versions, code and Hugging Face upvotes.

    \b
    Exit codes: 0 every line was added; 2 the file cannot be read as a library (nothing
    is stored) or no such subscriber; 3 some lines were not found or arXiv could not be
    reached (the rest were added; the lines are listed).

    \b
    Example:
      digest subscribers library ada@example.org ~/Zotero/export.bib
      echo "1706.03762 hep-th/9711200" | digest subscribers library ada@example.org -
    """
    import asyncio

    from digest.store.engine import transaction
    from digest.store.subscribers import get_subscriber

    data = _read(file)
    with transaction(app.engine()) as session:
        sub = get_subscriber(session, email)
    report = asyncio.run(_add(app, sub.id, data))
    for line in report.problems + report.not_found:
        app.err.print(line, soft_wrap=True, markup=False)
    app.say(f"{sub.email}: {report.summary()}")
    if not report.complete:
        sys.exit(EXIT_INCOMPLETE)


async def _add(app: App, subscriber_id: int, data: bytes) -> LibraryReport:
    from digest.pipeline.library import add_library
    from digest.sources.http import new_client

    async with new_client() as client:
        return await add_library(
            app.settings, app.engine(), client, subscriber_id, data, model=app.checked_model()
        )


def _read(file: Path) -> bytes:
    """The file's bytes, read no further than one byte past the size limit."""
    from digest.sources.library import MAX_LIBRARY_BYTES

    try:
        if str(file) == "-":
            return sys.stdin.buffer.read(MAX_LIBRARY_BYTES + 1)
        with file.open("rb") as handle:
            return handle.read(MAX_LIBRARY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
