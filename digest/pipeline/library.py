"""Adding a subscriber's library: read → look up → fetch what is missing → store → like.

`add_library` is what `digest subscribers library` and the preferences page call. The
references are read (`sources.library`), looked up among the stored papers, the arXiv ids
not stored yet are fetched from the arXiv API by `id_list` (100 a request, the same 3 s
per-host rule as every arXiv call) and stored as papers that are never news, and every
paper found becomes a like with source "library". What could not be found is reported by
line. Nothing is stored when the file cannot be read at all (`LibraryError`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import ConfigError
from digest.pipeline.embed import embed_papers
from digest.rank.embed import SentenceModel
from digest.records import LibraryReference, Paper
from digest.sources.fetch import Politeness, SourceFetch, fetch_arxiv_ids
from digest.sources.library import LibraryFile, read_library
from digest.store.engine import transaction
from digest.store.library import LibraryCounts, find_papers, like_from_library
from digest.store.papers import ingest_entries

log = logging.getLogger("digest.library")


@dataclass
class LibraryReport:
    """What adding a library did. `not_found` and `problems` are lines for the subscriber
    ("line 7: …"); `fetch_error` is set when the arXiv API could not be reached."""

    kind: str
    papers: int = 0
    added: int = 0
    already: int = 0
    fetched: int = 0
    not_found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fetch_error: str | None = None

    @property
    def complete(self) -> bool:
        """True when every line named a paper that is now liked."""
        return not (self.not_found or self.problems or self.fetch_error)

    def summary(self) -> str:
        """One sentence for people: what was added, what was not."""
        parts = [f"{self.added} paper{'' if self.added == 1 else 's'} added to your library"]
        if self.already:
            parts.append(f"{self.already} already there")
        if self.fetched:
            parts.append(f"{self.fetched} fetched from arXiv")
        missing = len(self.not_found) + len(self.problems)
        if missing:
            parts.append(f"{missing} line{'' if missing == 1 else 's'} not found or not readable")
        return ", ".join(parts) + "."


async def add_library(
    settings: Settings,
    engine: Engine,
    client: httpx.AsyncClient,
    subscriber_id: int,
    data: bytes | str,
    *,
    now: datetime | None = None,
    politeness: Politeness | None = None,
    model: SentenceModel | None = None,
) -> LibraryReport:
    """Like every paper `data` names; LibraryError (nothing stored) if it is no library.
    With a `model`, the liked papers that have no sentence vector are embedded."""
    moment = now or datetime.now(UTC)
    library = await asyncio.to_thread(read_library, data)
    report = LibraryReport(library.kind, papers=len(library.references))
    report.problems = library.problems
    known = await asyncio.to_thread(_find, engine, library.references)
    missing = [r.arxiv_id for r in library.references if r not in known and r.arxiv_id]
    fetched = SourceFetch()
    if missing:
        fetched = await fetch_arxiv_ids(
            client,
            settings.library.arxiv_api_url,
            missing,
            politeness=politeness or _politeness(settings),
        )
        # Only real trouble (not entries the API answered without a title) is an error.
        report.fetch_error = "; ".join(dict.fromkeys(fetched.errors)) or None
    found, counts = await asyncio.to_thread(_store, engine, subscriber_id, library, fetched, moment)
    liked = [paper.db_id for paper in found.values() if paper.db_id is not None]
    if model is not None and liked:
        await asyncio.to_thread(_embed, engine, model, liked)
    report.added, report.already = counts.added, counts.already
    report.fetched = sum(1 for r in library.references if r in found and r not in known)
    report.not_found = [
        _not_found(r, report.fetch_error) for r in library.references if r not in found
    ]
    return report


def _politeness(settings: Settings) -> Politeness:
    """The process-wide arXiv throttle, and the operator's address in the User-Agent."""
    address = settings.mail.from_address
    return Politeness(contact=None if "@localhost" in address else address)


def _find(engine: Engine, references: list[LibraryReference]) -> dict[LibraryReference, Paper]:
    with transaction(engine) as session:
        return find_papers(session, references)


def _store(
    engine: Engine,
    subscriber_id: int,
    library: LibraryFile,
    fetched: SourceFetch,
    now: datetime,
) -> tuple[dict[LibraryReference, Paper], LibraryCounts]:
    with transaction(engine) as session:
        ingest_entries(session, fetched.entries, now=now)
        found = find_papers(session, library.references)
        ids = [paper.db_id for paper in found.values() if paper.db_id is not None]
        counts = like_from_library(session, subscriber_id, ids, now=now)
    return found, counts


def _embed(engine: Engine, model: SentenceModel, liked: list[int]) -> None:
    """Liked papers pull their look-alikes up by meaning once they have a vector. A model
    that cannot load is logged: the likes stand, matched by their words until then."""
    try:
        embed_papers(engine, model, ids=liked)
    except ConfigError as exc:
        log.error("library papers stored without their sentence vectors: %s", exc)


def _not_found(reference: LibraryReference, fetch_error: str | None) -> str:
    where = f"line {reference.line}"
    if reference.arxiv_id and fetch_error:
        return f"{where}: arXiv {reference.arxiv_id} could not be fetched ({fetch_error})"
    if reference.arxiv_id:
        return f"{where}: arXiv has no paper {reference.arxiv_id}"
    return (
        f"{where}: DOI {reference.doi} is not a paper this digest knows (only arXiv papers "
        "can be fetched; give its arXiv id if it has one)"
    )
