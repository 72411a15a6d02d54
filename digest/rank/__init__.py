"""Ranking: which of the day's papers each subscriber gets, in what order, and why.

Pure functions over records and vectors, no I/O. Index a day's papers once with
`build_index` (with their stored sentence vectors), then score any number of profiles
against it with `rank_profiles`; `rank_papers` does both for a single profile.

index → topics/score (a fitted model of words and meaning) → choose (the cut-off) →
explain (the reason of each pick); `weights` holds every fitted constant.
"""

from digest.rank.index import PaperIndex, build_index
from digest.rank.select import rank_papers, rank_profiles
from digest.rank.vectors import Vectors

__all__ = ["PaperIndex", "Vectors", "build_index", "rank_papers", "rank_profiles"]
