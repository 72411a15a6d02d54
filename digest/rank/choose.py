"""Which of a batch's eligible papers go in, best first, for every profile at once.

Selection (`select`) hands over the eligible (profile, paper) pairs of a batch with their
final scores. Per profile the papers are ordered by score, best first, equal scores lower
paper row first; only the best `max_items * 2 + 4` are looked at; a near-duplicate of a
paper already in is skipped, unless a followed author wrote it (it always goes in); and at
most `max_items` go in.

The whole batch is ordered by one radix sort. The one outcome the scores alone do not
decide, equal scores straddling the cut of papers looked at, is left to the partition of
`_top_rows` for that profile alone, as it always was: no result depends on which profiles
share a batch.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from digest.rank.index import PaperIndex

MAX_PROFILES = 1 << 16  # profiles in a batch (their positions are sorted as 16-bit keys)
_SIGN = np.uint32(0x80000000)


def considered(max_items: int, count: int) -> int:
    """How many of a profile's best papers are looked at for `max_items` (of `count`)."""
    return min(max_items * 2 + 4, count)


def best_first(
    index: PaperIndex,
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray],
    sure: np.ndarray,
    followed: np.ndarray,
    max_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The papers that go in, as (profile, paper) arrays ordered by profile, then best
    first. `candidates` holds the eligible (profile, paper, final score) of a batch's
    profiles (at most `MAX_PROFILES`), ordered by profile then paper; `sure[i]` a score
    that at least `considered(max_items)` of profile i's candidates reach, if any do (so
    the candidates below it are not looked at); `followed` holds `profile * len(index) +
    paper` of the followed authors' papers.
    """
    profiles, wanted = len(sure), considered(max_items, len(index))
    at = np.flatnonzero(candidates[2] >= sure[candidates[0]])
    at = at[_best_first(candidates[0][at], candidates[2][at])]
    profile, paper, final = (values[at] for values in candidates)
    sizes = np.bincount(profile, minlength=profiles)
    tied = _tied_at_cut(final, sizes, wanted)
    keep = (_rank_within(sizes) < wanted) & ~tied[profile]
    chosen = _distinct(index, profile[keep], paper[keep], followed, max_items, profiles)
    if not tied.any():
        return chosen
    return _with_tied(index, chosen, candidates, tied, followed, max_items)


def _best_first(profile: np.ndarray, final: np.ndarray) -> np.ndarray:
    """The order of candidates by profile, then final score, best first, equal scores
    keeping their order. A radix sort: stable sorts of 16-bit keys, least significant
    first; the scores' bits are mapped so that their unsigned order is that of `-final`
    (with -0.0 made +0.0, so that equal scores stay equal)."""
    bits = (-final.astype(np.float32, copy=False) + np.float32(0.0)).view(np.uint32)
    ordered = bits ^ np.where(bits >= _SIGN, np.uint32(0xFFFFFFFF), _SIGN)
    order = np.argsort((ordered & 0xFFFF).astype(np.uint16), kind="stable")
    order = order[np.argsort((ordered[order] >> 16).astype(np.uint16), kind="stable")]
    result: np.ndarray = order[np.argsort(profile[order].astype(np.uint16), kind="stable")]
    return result


def _rank_within(sizes: np.ndarray) -> np.ndarray:
    """For entries grouped by profile, `sizes[i]` of them for profile i, each entry's
    place within its group."""
    starts = np.cumsum(sizes) - sizes
    ranks: np.ndarray = np.arange(int(sizes.sum())) - np.repeat(starts, sizes)
    return ranks


def _tied_at_cut(final: np.ndarray, sizes: np.ndarray, wanted: int) -> np.ndarray:
    """Per profile, whether its `wanted`-th best score equals the next one."""
    starts = np.cumsum(sizes) - sizes
    over = np.flatnonzero(sizes > wanted)
    tied = np.zeros(len(sizes), dtype=bool)
    tied[over] = final[starts[over] + wanted - 1] == final[starts[over] + wanted]
    return tied


def _distinct(
    index: PaperIndex,
    profile: np.ndarray,
    paper: np.ndarray,
    followed: np.ndarray,
    max_items: int,
    profiles: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Of each profile's ranked papers, those that go in: a near-duplicate of a paper
    ranked before it is skipped unless a followed author wrote it; `max_items` at most."""
    always = np.isin(profile * len(index) + paper, followed)
    keep = _first_of_group(index, profile, paper) | always
    profile, paper = profile[keep], paper[keep]
    keep = _rank_within(np.bincount(profile, minlength=profiles)) < max_items
    return profile[keep], paper[keep]


def _first_of_group(index: PaperIndex, profile: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Whether each entry is its profile's first of its near-duplicate group."""
    first = np.ones(len(paper), dtype=bool)
    groups = index.duplicate_of
    shared = (np.bincount(groups, minlength=len(index)) > 1)[groups[paper]]
    if shared.any():
        at = np.flatnonzero(shared)
        keys = profile[at] * len(index) + groups[paper[at]]
        first[at] = False
        first[at[np.unique(keys, return_index=True)[1]]] = True
    return first


def _with_tied(
    index: PaperIndex,
    chosen: tuple[np.ndarray, np.ndarray],
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray],
    tied: np.ndarray,
    followed: np.ndarray,
    max_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`chosen` completed with the papers of the `tied` profiles, chosen one profile at
    a time from all their `candidates` (profile, paper, final score)."""
    count = len(index)
    wanted = considered(max_items, count)
    profile, paper, score = candidates
    profiles, papers = [chosen[0]], [chosen[1]]
    for i in np.flatnonzero(tied).tolist():
        at = slice(np.searchsorted(profile, i), np.searchsorted(profile, i, side="right"))
        final = np.full(count, -np.inf, dtype=np.float32)
        final[paper[at]] = score[at]
        own = followed[(followed >= i * count) & (followed < (i + 1) * count)] - i * count
        top = _top_rows(final[None, :], wanted)[0]
        picked = _distinct_row(index, top, final, max_items, set(own.tolist()))
        profiles.append(np.full(len(picked), i, dtype=np.int64))
        papers.append(np.array(picked, dtype=np.int64))
    profile, paper = np.concatenate(profiles), np.concatenate(papers)
    order = np.argsort(profile, kind="stable")
    return profile[order], paper[order]


def _top_rows(final: np.ndarray, wanted: int) -> np.ndarray:
    """Per row, the column indices of the `wanted` best values, best first (ties: lower
    column first)."""
    wanted = min(wanted, final.shape[1])
    candidates = np.argpartition(-final, wanted - 1, axis=1)[:, :wanted]
    values = np.take_along_axis(final, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=1)
    return np.take_along_axis(candidates, order, axis=1)


def _distinct_row(
    index: PaperIndex,
    ranked: np.ndarray,
    final: np.ndarray,
    max_items: int,
    followed: Collection[int] = (),
) -> list[int]:
    """The ranked rows that are in, skipping near-duplicates of rows already taken
    (a followed author's paper is never skipped: it always goes in)."""
    chosen: list[int] = []
    groups: set[int] = set()
    for row in ranked.tolist():
        if final[row] == -np.inf:
            break
        group = int(index.duplicate_of[row])
        if group not in groups or row in followed:
            chosen.append(row)
            groups.add(group)
            if len(chosen) == max_items:
                break
    return chosen
