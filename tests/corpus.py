"""Real arXiv papers of one listing day from the shared corpus, as a source would list them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from digest.records import FeedEntry

CORPUS = Path("corpus") / "arxiv-daily-cs" / "papers.jsonl"


def listing_day(shared_data: Path, day: date, *, limit: int | None = None) -> list[FeedEntry]:
    """The papers the corpus lists as new on `day` (at most `limit`), as arXiv listed them."""
    entries = []
    with (shared_data / CORPUS).open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["listing_date"] != day.isoformat():
                continue
            entries.append(
                FeedEntry(
                    source="arxiv-listing",
                    key=row["id"],
                    title=row["title"],
                    abstract=row["abstract"],
                    authors=tuple(row["authors"]),
                    categories=tuple(row["categories"]),
                    primary_category=row["categories"][0] if row["categories"] else None,
                    arxiv_id=row["id"],
                    version=1,
                    abs_url=f"https://arxiv.org/abs/{row['id']}",
                    comment=row.get("comment"),
                    announce_type="new",
                    announced_on=day,
                    published=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
                )
            )
            if limit is not None and len(entries) >= limit:
                break
    return entries
