"""Sentence vectors handed to the ranking: the stored ones, looked up by what they embed.

The day's paper vectors go to `build_index` (one row per paper, in order); everything else a
profile needs — its topics' vectors and its liked or disliked papers' vectors — comes in a
`Vectors`, keyed by the topic text as the subscriber wrote it and by paper id. A missing
entry simply means that item is matched by words alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Vectors:
    """Unit-length float32 vectors: `topics` by topic text, `papers` by paper id."""

    topics: Mapping[str, np.ndarray] = field(default_factory=dict)
    papers: Mapping[str, np.ndarray] = field(default_factory=dict)
