"""Which of a batch's eligible papers go in, best first, for every profile at once.

Selection (`select`) hands over the eligible (profile, paper) pairs of a batch with their
final scores. Per profile the papers are ordered by score, best first, equal scores lower
paper row first; only the best `max_items * 2 + 4` are looked at; a near-duplicate of a
paper already in is skipped, unless a followed author wrote it (it always goes in); and at
most `max_items` go in.

The whole batch is ordered with one sort of packed integer keys. The one outcome the
scores alone do not decide, equal scores straddling the cut of papers looked at, is left
to `_top_rows`, as it always was, for that profile alone: no result depends on which
profiles share a batch.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from digest.rank.index import PaperIndex

_SIGN = np.uint32(0x80000000)


def best_first(
    index: PaperIndex,
    profiles: int,
    candidates: tuple[np.ndarray, np.ndarray, np.ndarray],
    followed: np.ndarray,
    max_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The papers that go in, as (profile, paper) arrays ordered by profile, then best
    first. `candidates` holds the eligible (profile, paper, final score) of `profiles`
    profiles; `followed` the `profile * len(index) + paper` of followed authors' papers.
    """
    count = len(index)
    wanted = min(max_items * 2 + 4, count)
    keys = _packed(*candidates, count)
    keys.sort()
    profile, worse, paper = _unpacked(keys, count)
    sizes = np.bincount(profile, minlength=profiles)
    tied = _tied_at_cut(worse, sizes, wanted)
    keep = (_rank_within(sizes) < wanted) & ~tied[profile]
    profile, paper = profile[keep], paper[keep]
    always = np.isin(profile * count + paper, followed)
    keep = _first_of_group(index, profile, paper) | always
    profile, paper = profile[keep], paper[keep]
    keep = _rank_within(np.bincount(profile, minlength=profiles)) < max_items
    profile, paper = profile[keep], paper[keep]
    if not tied.any():
        return profile, paper
    return _with_tied(index, (profile, paper), keys, tied, followed, max_items)


def _packed(profile: np.ndarray, paper: np.ndarray, final: np.ndarray, count: int) -> np.ndarray:
    """One unsigned key per candidate, ordered as the candidates must be: by profile,
    then score (best first), then paper. The score's bits are mapped so that unsigned
    order is the order of `-final` (with -0.0 made +0.0, so equal scores stay equal)."""
    bits = (-final.astype(np.float32, copy=False) + np.float32(0.0)).view(np.uint32)
    ordered = bits ^ np.where(bits >= _SIGN, np.uint32(0xFFFFFFFF), _SIGN)
    shift = _paper_bits(count)
    keys: np.ndarray = (profile.astype(np.uint64) << np.uint64(32 + shift)) | (
        ordered.astype(np.uint64) << np.uint64(shift)
    )
    keys |= paper.astype(np.uint64)
    return keys


def _unpacked(keys: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile, ordered score bits and paper of packed keys."""
    shift = _paper_bits(count)
    profile = (keys >> np.uint64(32 + shift)).astype(np.int64)
    worse = ((keys >> np.uint64(shift)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    paper = (keys & np.uint64((1 << shift) - 1)).astype(np.int64)
    return profile, worse, paper


def _scores_of(worse: np.ndarray) -> np.ndarray:
    """The final scores back from their ordered bits (the inverse of `_packed`)."""
    bits = worse ^ np.where(worse >= _SIGN, _SIGN, np.uint32(0xFFFFFFFF))
    scores: np.ndarray = -bits.view(np.float32)
    return scores


def _paper_bits(count: int) -> int:
    return max(count - 1, 1).bit_length()


def max_profiles(count: int) -> int:
    """How many profiles a batch may hold for their keys to fit in 64 bits."""
    return 1 << (32 - _paper_bits(count))


def _rank_within(sizes: np.ndarray) -> np.ndarray:
    """For entries grouped by profile, `sizes[i]` of them for profile i, each entry's
    place within its group."""
    starts = np.cumsum(sizes) - sizes
    ranks: np.ndarray = np.arange(int(sizes.sum())) - np.repeat(starts, sizes)
    return ranks


def _tied_at_cut(worse: np.ndarray, sizes: np.ndarray, wanted: int) -> np.ndarray:
    """Per profile, whether its `wanted`-th best score equals the next one."""
    starts = np.cumsum(sizes) - sizes
    over = np.flatnonzero(sizes > wanted)
    tied = np.zeros(len(sizes), dtype=bool)
    tied[over] = worse[starts[over] + wanted - 1] == worse[starts[over] + wanted]
    return tied


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
    keys: np.ndarray,
    tied: np.ndarray,
    followed: np.ndarray,
    max_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`chosen` completed with the papers of the `tied` profiles, chosen one by one."""
    count = len(index)
    wanted = min(max_items * 2 + 4, count)
    profile, worse, paper = _unpacked(keys, count)
    profiles, papers = [chosen[0]], [chosen[1]]
    for i in np.flatnonzero(tied).tolist():
        at = slice(np.searchsorted(profile, i), np.searchsorted(profile, i, side="right"))
        final = np.full(count, -np.inf, dtype=np.float32)
        final[paper[at]] = _scores_of(worse[at])
        own = followed[(followed >= i * count) & (followed < (i + 1) * count)] - i * count
        ranked = _top_rows(final[None, :], wanted)[0]
        picked = _distinct(index, ranked, final, max_items, set(own.tolist()))
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


def _distinct(
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
