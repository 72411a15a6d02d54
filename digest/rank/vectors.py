"""Sentence vectors handed to the ranking: the stored ones, looked up by what they embed.

The day's paper vectors go to `build_index` (one row per paper, in order); everything else a
profile needs — its topics' vectors and its liked or disliked papers' vectors — comes in a
`Vectors`, keyed by the topic text as the subscriber wrote it and by paper id. A missing
entry simply means that item is matched by words alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from digest.records import Paper, Profile


class SupportsEmbed(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Vectors:
    """Unit-length float32 vectors: `topics` by topic text, `papers` by paper id."""

    topics: Mapping[str, np.ndarray] = field(default_factory=dict)
    papers: Mapping[str, np.ndarray] = field(default_factory=dict)


def embed_run(
    embedder: SupportsEmbed, papers: Sequence[Paper], profiles: Sequence[Profile]
) -> tuple[np.ndarray, Vectors]:
    """Embed what a run without stored vectors needs (`digest rank`): the papers of the day,
    each distinct topic, and the profiles' liked and disliked papers."""
    from digest.rank.embed import paper_text

    day = embedder.embed([paper_text(p.title, p.abstract) for p in papers])
    topics = sorted({t for p in profiles for t in p.topics if t.strip()})
    voted = {v.id: v for p in profiles for v in (*p.liked, *p.disliked)}
    known = {p.id: row for p, row in zip(papers, day, strict=True)}
    fresh = [v for key, v in voted.items() if key not in known]
    texts = [paper_text(v.title, v.abstract) for v in fresh]
    extra: np.ndarray | tuple[()] = embedder.embed(texts) if fresh else ()
    by_paper = {key: known[key] for key in voted if key in known}
    by_paper.update({v.id: row for v, row in zip(fresh, extra, strict=True)})
    by_topic = dict(zip(topics, embedder.embed(topics), strict=True)) if topics else {}
    return day, Vectors(topics=by_topic, papers=by_paper)
