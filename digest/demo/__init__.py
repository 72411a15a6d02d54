"""The demo's sample day: a few well-known papers shipped with the package (see README.md here)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from digest.records import FeedEntry

SAMPLE = Path(__file__).resolve().parent / "papers.jsonl"
DEMO_SOURCE = "demo"
DEMO_TOPICS = ("large language model agents", "gaussian splatting", "diffusion models")


def sample_entries(now: datetime) -> list[FeedEntry]:
    """The sample papers as if a feed had listed them at `now`."""
    entries = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        arxiv_id = data["id"]
        entries.append(
            FeedEntry(
                source=DEMO_SOURCE,
                key=arxiv_id,
                arxiv_id=arxiv_id,
                title=data["title"],
                abstract=data["abstract"],
                authors=tuple(data["authors"]),
                categories=tuple(data["categories"]),
                primary_category=data["categories"][0],
                abs_url=f"https://arxiv.org/abs/{arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                hf_url=f"https://huggingface.co/papers/{arxiv_id}" if "upvotes" in data else None,
                upvotes=data.get("upvotes"),
                code_url=data.get("code_url"),
                stars=data.get("stars"),
                announce_type="new",
                published=now,
                featured_on=now.date() if "upvotes" in data else None,
            )
        )
    return entries
