"""The cut-off: which of a profile's candidates go into its digest, best first.

A paper goes in when its probability of being clearly relevant reaches
`weights.SEND_PROBABILITY`: an absolute bar, the same on a busy day and on a quiet one,
so a day with nothing on topic sends nothing and a small day with five relevant papers
sends those five. Papers by followed authors always go in (their probability is above 1).
At most `max_items` are sent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from digest.rank import weights

SourceKind = Literal["topic", "liked", "author", "category", "none"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A paper's probability for one profile, and what earned it: the topic text, the
    liked paper's id or the followed author's name."""

    chance: float
    kind: SourceKind
    what: str = ""


def choose(candidates: Sequence[Candidate], excluded: Collection[int], max_items: int) -> list[int]:
    """Positions of the papers that go in, best first."""
    chances = np.fromiter((c.chance for c in candidates), dtype=np.float64, count=len(candidates))
    if excluded:
        chances[list(excluded)] = -1.0
    order = np.argsort(-chances, kind="stable")[: max(max_items, 0)]
    return [int(p) for p in order if chances[p] >= weights.SEND_PROBABILITY]
