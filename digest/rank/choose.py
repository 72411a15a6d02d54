"""The cut-off: which of a profile's candidates go into its digest, best first.

A paper goes in when its probability of being clearly relevant reaches
`weights.SEND_PROBABILITY`: an absolute bar, the same on a busy day and on a quiet one,
so a day with nothing on topic sends nothing and a small day with five relevant papers
sends those five. Papers by followed authors always go in (their probability is above 1).
At most `max_items` are sent.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from digest.rank import weights

# What earned a paper its place when it was not a topic: ("liked", paper id),
# ("author", name) or ("category", "").
Source = tuple[Literal["topic", "liked", "author", "category", "none"], str]


def choose(chances: np.ndarray, max_items: int) -> list[list[int]]:
    """Per row (profile) of `chances`, the positions of the papers that go in, best first."""
    wanted = min(max(max_items, 0), chances.shape[1])
    if not wanted:
        return [[] for _ in range(chances.shape[0])]
    top = np.argpartition(-chances, wanted - 1, axis=1)[:, :wanted]
    values = np.take_along_axis(chances, top, axis=1)
    order = np.lexsort((top, -values), axis=1)  # best first; ties by position in the day
    top = np.take_along_axis(top, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    keep = values >= weights.SEND_PROBABILITY
    return [row[k].tolist() for row, k in zip(top, keep, strict=True)]
