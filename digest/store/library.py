"""A subscriber's library: papers they named as ones they like, stored as likes.

Library papers are rows of `feedback` with vote +1 and `source` "library", the same store
the 👍 in a digest writes, so ranking treats both alike (and can tell them apart: see
store.feedback). `find_papers` looks references up among the stored papers by arXiv id or
DOI; `like_from_library` records the likes; `library_of` lists what a subscriber added.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from digest.records import LibraryReference, Paper
from digest.store.feedback import remember_liked_state
from digest.store.papers import to_paper
from digest.store.schema import FeedbackRow, PaperRow

_CHUNK = 500  # keys per query


@dataclass(frozen=True, slots=True)
class LibraryCounts:
    """What recording a library did: likes added, and papers already liked before."""

    added: int = 0
    already: int = 0


def find_papers(
    session: Session, references: Sequence[LibraryReference]
) -> dict[LibraryReference, Paper]:
    """The stored paper of each reference that has one (by arXiv id, else by DOI)."""
    arxiv_ids = sorted({r.arxiv_id for r in references if r.arxiv_id})
    dois = sorted({r.doi for r in references if r.doi and not r.arxiv_id})
    by_key: dict[str, Paper] = {}
    by_doi: dict[str, Paper] = {}
    for start in range(0, len(arxiv_ids), _CHUNK):
        chunk = arxiv_ids[start : start + _CHUNK]
        for row in session.scalars(select(PaperRow).where(PaperRow.key.in_(chunk))):
            by_key[row.key] = to_paper(row)
    for start in range(0, len(dois), _CHUNK):
        chunk = dois[start : start + _CHUNK]
        keys = [f"doi:{doi}" for doi in chunk]
        query = select(PaperRow).where(or_(PaperRow.doi.in_(chunk), PaperRow.key.in_(keys)))
        for row in session.scalars(query):
            if row.doi:
                by_doi.setdefault(row.doi.lower(), to_paper(row))
            if row.key.startswith("doi:"):
                by_doi.setdefault(row.key.removeprefix("doi:"), to_paper(row))
    found: dict[LibraryReference, Paper] = {}
    for reference in references:
        paper = (
            by_key.get(reference.arxiv_id)
            if reference.arxiv_id
            else by_doi.get(reference.doi or "")
        )
        if paper is not None:
            found[reference] = paper
    return found


def like_from_library(
    session: Session, subscriber_id: int, paper_ids: Iterable[int], *, now: datetime
) -> LibraryCounts:
    """Record each paper (row id) as liked from the library. A paper already liked stays
    as it is; one the subscriber had disliked becomes liked (the library is the more
    deliberate word)."""
    wanted = list(dict.fromkeys(paper_ids))
    existing: dict[int, FeedbackRow] = {}
    papers: dict[int, PaperRow] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(FeedbackRow).where(
            FeedbackRow.subscriber_id == subscriber_id, FeedbackRow.paper_id.in_(chunk)
        )
        existing.update((row.paper_id, row) for row in session.scalars(query))
        papers.update(
            (row.id, row) for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk)))
        )
    added = already = 0
    for paper_id in wanted:
        paper = papers.get(paper_id)
        if paper is None:
            continue
        row = existing.get(paper_id)
        if row is not None and row.vote > 0:
            already += 1
            continue
        if row is None:
            row = FeedbackRow(subscriber_id=subscriber_id, paper_id=paper_id)
            session.add(row)
        row.vote, row.source, row.created_at = 1, "library", now
        remember_liked_state(row, paper)
        added += 1
    session.flush()
    return LibraryCounts(added, already)


def library_of(session: Session, subscriber_id: int, *, limit: int = 20) -> tuple[int, list[Paper]]:
    """How many papers the subscriber added from their library, and the latest `limit`."""
    condition = (
        FeedbackRow.subscriber_id == subscriber_id,
        FeedbackRow.vote > 0,
        FeedbackRow.source == "library",
    )
    total = session.scalar(select(func.count()).select_from(FeedbackRow).where(*condition))
    query = (
        select(PaperRow)
        .join(FeedbackRow, FeedbackRow.paper_id == PaperRow.id)
        .where(*condition)
        .order_by(FeedbackRow.created_at.desc(), PaperRow.id.desc())
        .limit(limit)
    )
    return int(total or 0), [to_paper(row) for row in session.scalars(query)]
