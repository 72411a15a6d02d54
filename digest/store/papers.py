"""Papers in the store: ingesting what sources listed, and reading candidates back.

`ingest_entries` upserts by canonical key (see `records.FeedEntry`). Several sources' signals
merge into one row: arXiv text and versions, Hugging Face upvotes, code links and stars,
the union of categories and keywords. A replacement (v2) updates the paper but never makes it
new again: `first_seen_at` is set once, and so is `old_news` (first met as a replacement or
looked up by id: never a candidate). `announced_on` is the first day a listing announced
the paper on (arXiv's, a feed's) and nothing else; a paper's day falls back from it to the
day Hugging Face featured it, then to the day it was first seen (`store.browse`). Each
source's listing of a paper is remembered (`paper_listings`: first and last time, and how
it was announced).

Per-source fetch state (HTTP validators for each URL, last outcome, the earliest next
attempt a server asked for) lives here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from digest.records import LOOKED_UP, FeedEntry, Paper
from digest.store.engine import dialect_insert
from digest.store.schema import PaperListingRow, PaperRow, SourceStateRow

REPLACEMENT_TYPES = frozenset({"replace", "replace-cross"})
_NOT_NEWS = REPLACEMENT_TYPES | {LOOKED_UP}
_CHUNK = 500
# Fields a later listing overwrites whenever it knows them (newer signals win).
_LATEST_WINS = (
    *("doi", "journal_ref", "code_url", "project_url", "hf_url", "ai_summary", "upvotes"),
    "stars",
)
# Fields only filled when still empty (the first source to know them wins).
_FILL_ONLY = ("abs_url", "pdf_url", "arxiv_id", "featured_on", "announced_on")


@dataclass(frozen=True, slots=True)
class IngestCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about fetching one source."""

    name: str
    # URL → (ETag, Last-Modified) of each URL the source fetched last time.
    validators: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    next_allowed_at: datetime | None = None


def ingest_entries(
    session: Session, entries: Sequence[FeedEntry], *, now: datetime
) -> IngestCounts:
    """Store `entries` (new papers inserted, known ones merged); counts per distinct paper."""
    merged = _merge_batch(entries)
    if not merged:
        return IngestCounts()
    existing = _rows_by_key(session, list(merged))
    fresh = [entry for key, entry in merged.items() if key not in existing]
    inserted = _insert_new(session, fresh, now=now)
    # Keys another writer inserted meanwhile are merged like any known paper.
    existing.update(_rows_by_key(session, [e.key for e in fresh if e.key not in inserted]))
    updated = sum(
        _apply(existing[key], entry, now=now) for key, entry in merged.items() if key in existing
    )
    session.flush()
    ids = {key: row.id for key, row in existing.items()} | inserted
    _record_listings(session, entries, ids, now=now)
    return IngestCounts(len(inserted), updated, len(merged) - len(inserted) - updated)


def _merge_batch(entries: Iterable[FeedEntry]) -> dict[str, FeedEntry]:
    """One entry per key: when a batch lists a paper twice, the later listing's signals win."""
    merged: dict[str, FeedEntry] = {}
    for entry in entries:
        earlier = merged.get(entry.key)
        merged[entry.key] = entry if earlier is None else _combine(earlier, entry)
    return merged


def _combine(earlier: FeedEntry, later: FeedEntry) -> FeedEntry:
    empty: tuple[Any, ...] = (None, "", ())
    changes = {
        f.name: getattr(earlier, f.name)
        for f in dataclass_fields(FeedEntry)
        if getattr(later, f.name) in empty and getattr(earlier, f.name) not in empty
    }
    return replace(later, **changes)


def _rows_by_key(session: Session, keys: list[str]) -> dict[str, PaperRow]:
    rows: dict[str, PaperRow] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for row in session.scalars(select(PaperRow).where(PaperRow.key.in_(chunk))):
            rows[row.key] = row
    return rows


def _insert_new(session: Session, entries: list[FeedEntry], *, now: datetime) -> dict[str, int]:
    """Insert papers not yet stored; returns key → id of the rows this call inserted."""
    if not entries:
        return {}
    insert = dialect_insert(session)
    inserted: dict[str, int] = {}
    for start in range(0, len(entries), _CHUNK):
        values = [_new_row(e, now=now) for e in entries[start : start + _CHUNK]]
        statement = (
            insert(PaperRow)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(PaperRow.id, PaperRow.key)
        )
        for paper_id, key in session.execute(statement, values):
            inserted[key] = paper_id
    return inserted


def _new_row(entry: FeedEntry, *, now: datetime) -> dict[str, Any]:
    old_news = entry.announce_type in _NOT_NEWS
    return {
        "key": entry.key,
        "arxiv_id": entry.arxiv_id,
        "version": entry.version,
        "doi": entry.doi,
        "title": entry.title,
        "abstract": entry.abstract,
        "authors": list(entry.authors),
        "categories": list(entry.categories),
        "primary_category": entry.primary_category,
        "keywords": list(entry.keywords),
        "comment": entry.comment,
        "journal_ref": entry.journal_ref,
        "abs_url": entry.abs_url or entry.link,
        "pdf_url": entry.pdf_url,
        "code_url": entry.code_url,
        "project_url": entry.project_url,
        "hf_url": entry.hf_url,
        "ai_summary": entry.ai_summary,
        "upvotes": entry.upvotes,
        "stars": entry.stars,
        "published_at": entry.published,
        "updated_at": entry.updated,
        "first_seen_at": now,
        # Only a day a listing announced the paper on: a paper's day falls back to the day
        # Hugging Face featured it, then to the day it was first seen (see store.browse).
        "announced_on": entry.announced_on,
        # A paper first met as a replacement (or looked up) is old news: it never becomes
        # a candidate.
        "old_news": old_news,
        "featured_on": entry.featured_on,
        "changed_at": now,
    }


def _apply(row: PaperRow, entry: FeedEntry, *, now: datetime) -> bool:
    """Merge one listing into a stored paper; True if anything changed."""
    changes: dict[str, Any] = {}
    if _is_newer_text(row, entry):
        changes.update(_text_fields(entry))
    for name in _LATEST_WINS:
        value = getattr(entry, name)
        if value is not None and value != getattr(row, name):
            changes[name] = value
    for name in _FILL_ONLY:
        value = getattr(entry, name)
        if value is not None and getattr(row, name) is None:
            changes[name] = value
    changes.update(_merged_lists(row, entry))
    changes.update(_merged_dates(row, entry))
    changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not changes:
        return False
    for name, value in changes.items():
        setattr(row, name, value)
    if "title" in changes or "abstract" in changes:
        # The sentence vector read the old text: the next embedding run reads the new one.
        row.embedding, row.embedding_model = None, None
    row.changed_at = now
    return True


def _is_newer_text(row: PaperRow, entry: FeedEntry) -> bool:
    """arXiv listings with a version at least as new own the text; others only fill gaps."""
    if entry.version is not None:
        return row.version is None or entry.version >= row.version
    return not row.abstract and bool(entry.abstract)


def _text_fields(entry: FeedEntry) -> dict[str, Any]:
    fields: dict[str, Any] = {"title": entry.title}
    optional = {
        "version": entry.version,
        "abstract": entry.abstract or None,
        "authors": list(entry.authors) or None,
        "primary_category": entry.primary_category,
        "comment": entry.comment,
        "updated_at": entry.updated,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    return fields


def _merged_lists(row: PaperRow, entry: FeedEntry) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("categories", "keywords"):
        current = list(getattr(row, name) or [])
        union = list(dict.fromkeys([*current, *getattr(entry, name)]))
        if union != current:
            changes[name] = union
    if not row.authors and entry.authors:
        changes["authors"] = list(entry.authors)
    return changes


def _merged_dates(row: PaperRow, entry: FeedEntry) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if entry.published and (row.published_at is None or entry.published < row.published_at):
        changes["published_at"] = entry.published
    if entry.updated and (row.updated_at is None or entry.updated > row.updated_at):
        changes["updated_at"] = entry.updated
    return changes


def _record_listings(
    session: Session, entries: Sequence[FeedEntry], ids: dict[str, int], *, now: datetime
) -> None:
    listings: dict[tuple[int, str], str | None] = {}
    for entry in entries:
        if entry.key in ids:
            listings[(ids[entry.key], entry.source)] = entry.announce_type
    if not listings:
        return
    insert = dialect_insert(session)
    values = [
        {
            "paper_id": paper_id,
            "source": source,
            "announce_type": kind,
            "first_listed_at": now,
            "last_listed_at": now,
        }
        for (paper_id, source), kind in listings.items()
    ]
    for start in range(0, len(values), _CHUNK):
        statement = insert(PaperListingRow)
        statement = statement.on_conflict_do_update(
            index_elements=["paper_id", "source"],
            set_={
                "last_listed_at": statement.excluded.last_listed_at,
                "announce_type": statement.excluded.announce_type,
            },
        )
        session.execute(statement, values[start : start + _CHUNK])


def to_paper(row: PaperRow) -> Paper:
    """The record ranking and rendering see; `id` is the canonical key, `db_id` the row id."""
    return Paper(
        id=row.key,
        title=row.title,
        abstract=row.abstract or "",
        authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()),
        published=row.published_at,
        upvotes=row.upvotes,
        stars=row.stars,
        abs_url=row.abs_url,
        pdf_url=row.pdf_url,
        code_url=row.code_url,
        project_url=row.project_url,
        hf_url=row.hf_url,
        comment=row.comment,
        db_id=row.id,
        ai_summary=row.ai_summary,
        first_seen=row.first_seen_at,
    )


def candidate_papers(session: Session, *, since: datetime) -> list[Paper]:
    """Papers first seen at or after `since`, newest first; replacements of old papers excluded."""
    query = (
        select(PaperRow)
        .where(PaperRow.first_seen_at >= since, PaperRow.old_news == false())
        .order_by(PaperRow.first_seen_at.desc(), PaperRow.id.desc())
    )
    return [to_paper(row) for row in session.scalars(query)]


def trending_papers(session: Session, *, since: date, limit: int = 10) -> list[Paper]:
    """Papers featured (Hugging Face) on or after `since`, most upvoted first."""
    query = (
        select(PaperRow)
        .where(PaperRow.featured_on >= since)
        .order_by(PaperRow.upvotes.desc().nulls_last(), PaperRow.id.desc())
        .limit(limit)
    )
    return [to_paper(row) for row in session.scalars(query)]


def papers_by_ids(session: Session, db_ids: Iterable[int]) -> list[Paper]:
    """Papers by row id, in the order asked; unknown ids are left out."""
    wanted = list(dict.fromkeys(db_ids))
    rows: dict[int, PaperRow] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows.update(
            (r.id, r) for r in session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk)))
        )
    return [to_paper(rows[i]) for i in wanted if i in rows]


def paper_by_key(session: Session, key: str) -> Paper | None:
    row = session.scalar(select(PaperRow).where(PaperRow.key == key))
    return to_paper(row) if row else None


def paper_sources(session: Session, db_id: int) -> dict[str, str | None]:
    """Which sources listed a paper, and how (announce type)."""
    query = select(PaperListingRow.source, PaperListingRow.announce_type).where(
        PaperListingRow.paper_id == db_id
    )
    return {row[0]: row[1] for row in session.execute(query)}


def get_source_state(session: Session, name: str) -> SourceState:
    """The remembered state of a source (empty if it was never fetched)."""
    row = session.get(SourceStateRow, name)
    return _state(row) if row else SourceState(name)


def list_source_states(session: Session) -> list[SourceState]:
    return [
        _state(r) for r in session.scalars(select(SourceStateRow).order_by(SourceStateRow.name))
    ]


def put_source_state(session: Session, state: SourceState) -> None:
    """Remember a fetch outcome (replacing what was stored for that source)."""
    row = session.get(SourceStateRow, state.name) or SourceStateRow(name=state.name)
    row.validators = {url: list(pair) for url, pair in state.validators.items()}
    row.last_attempt_at = state.last_attempt_at
    row.last_success_at = state.last_success_at
    row.last_error = state.last_error
    row.next_allowed_at = state.next_allowed_at
    session.add(row)


def _state(row: SourceStateRow) -> SourceState:
    return SourceState(
        name=row.name,
        validators={
            url: (pair[0], pair[1])
            for url, pair in (row.validators or {}).items()
            if isinstance(pair, list) and len(pair) == 2
        },
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        next_allowed_at=row.next_allowed_at,
    )
