"""Score every profile against a day's index, decide what goes in, and say why.

`rank_profiles` is the entry point:

1. every distinct topic of the run is compiled and scored against the day once
   (`score.topic_logits`): a topics x papers table of log-odds of "clearly relevant"; the
   index keeps each topic's row, so a later run (a delivery's next batch) reuses it;
2. profiles are taken in batches of equal topic count; per profile and paper the best of
   its topics counts (a paper on one topic is enough), by one NumPy gather and max;
3. what more than topics decides is applied per profile: once a profile has enough 👍/👎,
   its own model corrects its log-odds (`learned`); below that, liked papers (a look-alike
   counts like a topic match) and disliked papers (a look-alike's probability is scaled down
   by how much it looks like one); then excluded words (out), followed categories (a
   profile with no topics gets its categories' papers), followed authors (always in),
   papers to skip;
4. a paper goes in when its probability reaches `weights.SEND_PROBABILITY`, best first, up
   to `max_items` (`choose`), so a quiet day sends nothing;
5. each pick gets its reason (`explain`).

Every profile is scored on its own: its picks never depend on the other profiles of the
run, nor on how the run is batched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from digest.rank import weights
from digest.rank.choose import Source, choose
from digest.rank.explain import (
    explain_author,
    explain_liked,
    explain_signals,
    explain_topic,
    explain_words_only,
    join_reason,
)
from digest.rank.index import PaperIndex, build_index
from digest.rank.learned import learn_all, mean_vector, without_votes
from digest.rank.score import liked_logits, probability, topic_logits
from digest.rank.text import names_match, normalise_name
from digest.rank.topics import compile_topic
from digest.rank.vectors import Vectors
from digest.records import Paper, Pick, Profile

BATCH_SIZE = 1024  # profiles scored together
MAX_TOPICS = 50  # topics of one profile that are read
MAX_TABLE_ROWS = 50_000  # scored topics kept for the run (float32: 140 MB for 700 papers)
MAX_KEPT_ROWS = 20_000  # scored topics an index keeps for later runs (57 MB for 700 papers)
MAX_CACHED = 200_000  # compiled topics and worded matches an index keeps for later runs


def rank_papers(
    papers: Sequence[Paper],
    profile: Profile,
    *,
    max_items: int = 10,
    vectors: Vectors | None = None,
    paper_vectors: np.ndarray | None = None,
) -> list[Pick]:
    """Rank one day's papers for one profile (indexes them first)."""
    index = build_index(papers, vectors=paper_vectors)
    return rank_profiles(index, [profile], max_items=max_items, vectors=vectors)[0]


def rank_profiles(
    index: PaperIndex,
    profiles: Sequence[Profile],
    *,
    max_items: int = 10,
    skip: Sequence[Collection[str]] | None = None,
    vectors: Vectors | None = None,
) -> list[list[Pick]]:
    """The digest picks of each profile, best first, in the order of `profiles`.

    `skip[i]` holds paper ids profile i must not get (for instance, already sent).
    `vectors` holds the stored sentence vectors of topics and of liked/disliked papers.
    """
    if skip is not None and len(skip) != len(profiles):
        raise ValueError("skip must have one entry per profile")
    if not len(index) or not profiles:
        return [[] for _ in profiles]
    # The products are small: BLAS does them on one thread, as its threads would mostly
    # wait for each other (on a busy two-core host, 50 topic vectors against a day of 713
    # papers took 15 ms on two threads, 0.5 ms on one).
    with threadpool_limits(limits=1, user_api="blas"):
        return _rank_batches(index, profiles, max_items, skip, vectors or Vectors())


def _rank_batches(
    index: PaperIndex,
    profiles: Sequence[Profile],
    max_items: int,
    skip: Sequence[Collection[str]] | None,
    vectors: Vectors,
) -> list[list[Pick]]:
    table = _TopicTable(index, vectors)
    picks: list[list[Pick]] = [[] for _ in profiles]
    for members in _batches(profiles):
        batch = [profiles[m] for m in members]
        topics = [_topics(p) for p in batch]
        best, which = table.best(topics)
        learned = learn_all(batch, vectors.papers, index.vectors, _centre(index))
        for row, found in enumerate(learned):
            if found is not None:
                # A paper without a vector is not one the votes vouch for: it only loses.
                shift = -found.model.shift
                best[row] += np.where(index.embedded, found.correction, shift).astype(best.dtype)
        chances = probability(best)
        sources: dict[int, dict[int, Source]] = {}
        for row, member in enumerate(members):
            profile = batch[row] if learned[row] is None else without_votes(batch[row])
            if _has_extras(profile, skip[member] if skip else ()):
                sources[row] = _apply_extras(index, profile, chances[row], vectors)
                rows = _excluded(index, profile, sources[row], skip[member] if skip else ())
                chances[row, list(rows)] = -1.0
        for row, chosen in enumerate(choose(chances, max_items)):
            own, wanted = sources.get(row, {}), topics[row]
            found = learned[row]
            embedded = [paper for paper in chosen if index.embedded[paper]]
            lifted = {} if found is None else found.lifted(index.vectors, embedded)
            picks[members[row]] = [
                _pick(
                    table,
                    batch[row],
                    paper,
                    chances[row, paper],
                    own.get(paper)
                    or (("topic", wanted[which[row, paper]]) if wanted else ("none", "")),
                    lifted.get(paper),
                )
                for paper in chosen
            ]
    return picks


def _pick(
    table: _TopicTable,
    profile: Profile,
    paper: int,
    chance: float,
    source: Source,
    lifted_by: Paper | None,
) -> Pick:
    record = table.index.papers[paper]
    kind, what = source
    parts: list[str] = []
    if kind == "author":
        parts.append(explain_author(what))
    elif kind == "topic":
        parts.append(table.reason(what, paper))
    elif kind == "liked":
        title = next((p.title for p in profile.liked if p.id == what), what)
        parts.append(explain_liked(title, from_library=what in profile.library))
    if lifted_by is not None and kind == "topic":
        parts.append(explain_liked(lifted_by.title))
    reason = join_reason(parts + explain_signals(record, profile.categories))
    return Pick(
        record, round(min(float(chance), 1.0), 4), reason, what if kind == "topic" else None
    )


class _TopicTable:
    """Each distinct topic of the run scored once: its row of log-odds. The index keeps
    the rows (`_scored`), so later runs against it score only the topics they bring anew."""

    def __init__(self, index: PaperIndex, vectors: Vectors) -> None:
        self.index = index
        self.vectors = vectors
        self.rows: dict[str, int] = {}
        self.logits = np.full((1, len(index)), -np.inf, dtype=np.float32)  # row 0: "no topic"
        self.meaning: set[str] = set()  # topics scored with their sentence vector

    def best(self, topics: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Per profile and paper: the best log-odds over its topics, and which topic."""
        width = max((len(t) for t in topics), default=0) or 1
        self._add({t for profile in topics for t in profile})
        rows = np.zeros((len(topics), width), dtype=np.int64)
        for n, profile in enumerate(topics):
            rows[n, : len(profile)] = [self.rows[t] for t in profile]
        gathered = self.logits[rows]  # profiles x topics x papers
        which = gathered.argmax(axis=1)
        best = np.take_along_axis(gathered, which[:, np.newaxis, :], axis=1)[:, 0, :]
        return best, which

    def reason(self, text: str, paper: int) -> str:
        """Why `paper` matches topic `text` (worded once per index and topic): by words
        alone when the topic or the paper has no vector."""
        by_meaning = text in self.meaning and bool(self.index.embedded[paper])
        key = f"reason:{'meaning' if by_meaning else 'words'}:{text}\x00{paper}"
        cached = self.index.cache.get(key)
        if isinstance(cached, str):
            return cached
        topic = compile_topic(self.index, text)
        if by_meaning:
            reason = explain_topic(self.index, topic, paper)
        else:
            reason = explain_words_only(self.index, topic, paper)
        if len(self.index.cache) < MAX_CACHED:
            self.index.cache[key] = reason
        return reason

    def _add(self, texts: set[str]) -> None:
        fresh = sorted(t for t in texts if t not in self.rows)
        if not fresh:
            return
        if len(self.rows) + len(fresh) > MAX_TABLE_ROWS:
            self.rows.clear()
            self.logits = self.logits[:1]
            fresh = sorted(texts)
        found = [self.vectors.topics.get(t) for t in fresh]
        if self.index.vectors is not None:
            self.meaning.update(t for t, v in zip(fresh, found, strict=True) if v is not None)
        for text in fresh:
            self.rows[text] = len(self.rows) + 1
        self.logits = np.vstack([self.logits, *_scored(self.index, fresh, found)])


def _scored(
    index: PaperIndex, texts: list[str], vectors: list[np.ndarray | None]
) -> list[np.ndarray]:
    """Each topic's row of log-odds (float32): as the index kept it for the same text and
    vector under the same constants, else scored now (and kept, up to `MAX_KEPT_ROWS`).
    Rows are never changed; constants that change (as `bench/fit_rank.py` changes them for
    each fold) get rows of their own."""
    model = (weights.WITH_MEANING, weights.ON_ITS_OWN, weights.WORDS_ONLY, weights.FEEDBACK_PAPERS)
    constants = f"topic rows: {model}"
    kept = index.cache.get(constants)
    if not isinstance(kept, dict):
        kept = index.cache[constants] = {}
    keys = [(text, _digest(vector)) for text, vector in zip(texts, vectors, strict=True)]
    rows: list[np.ndarray | None] = [kept.get(key) for key in keys]
    missing = [n for n, row in enumerate(rows) if row is None]
    if missing:
        topics = [compile_topic(index, texts[n]) for n in missing]
        scored = topic_logits(index, topics, [vectors[n] for n in missing])
        scored[[n for n, t in enumerate(topics) if t.empty]] = -np.inf
        for n, row in zip(missing, scored.astype(np.float32), strict=True):
            rows[n] = row
            if len(kept) < MAX_KEPT_ROWS:
                kept[keys[n]] = row
    return [row for row in rows if row is not None]


def _digest(vector: np.ndarray | None) -> bytes:
    """What tells a topic's vectors apart (none: scored by words alone)."""
    return b"" if vector is None else hashlib.blake2b(vector.tobytes(), digest_size=16).digest()


def _centre(index: PaperIndex) -> np.ndarray | None:
    """The day's mean paper vector (what the learned models measure from), once per index."""
    if index.vectors is None or not index.embedded.any():
        return None
    cached = index.cache.get("centre")
    if not isinstance(cached, np.ndarray):
        cached = mean_vector(index.vectors[index.embedded])
        index.cache["centre"] = cached
    return cached


def _has_extras(profile: Profile, skip: Collection[str]) -> bool:
    """Whether more than the profile's topics decides (most profiles: no)."""
    return bool(
        profile.liked
        or profile.disliked
        or profile.authors
        or profile.exclude
        or skip
        or (profile.categories and not profile.topics)
    )


def _apply_extras(
    index: PaperIndex, profile: Profile, chances: np.ndarray, vectors: Vectors
) -> dict[int, Source]:
    """Adjust one profile's row of probabilities (in place) for its liked and disliked
    papers, categories and followed authors; returns the papers that something other than
    a topic earned, with what earned them."""
    sources: dict[int, Source] = {}
    if profile.liked:
        found = [vectors.papers.get(p.id) for p in profile.liked]
        liked = probability(liked_logits(index, profile.liked, found))
        best = liked.argmax(axis=0)
        for paper in np.flatnonzero(liked.max(axis=0) > chances):
            chances[paper] = liked[best[paper], paper]
            sources[int(paper)] = ("liked", profile.liked[best[paper]].id)
    if profile.disliked:
        found = [vectors.papers.get(p.id) for p in profile.disliked]
        chances *= 1.0 - probability(liked_logits(index, profile.disliked, found)).max(axis=0)
    if profile.categories and not profile.topics and not profile.liked:
        # Nothing else to go by: the categories' papers, the most upvoted first.
        wanted = {c.lower() for c in profile.categories}
        for row, categories in enumerate(index.categories):
            if categories & wanted:
                upvotes = index.papers[row].upvotes or 0
                chances[row] = weights.SEND_PROBABILITY + 0.01 * np.log1p(max(upvotes, 0))
                sources[row] = ("category", "")
    for row, name in _by_followed_authors(index, profile.authors):
        chances[row] = 1.0 + chances[row]  # always in, ahead of the rest
        sources[row] = ("author", name)
    return sources


def _excluded(
    index: PaperIndex, profile: Profile, sources: dict[int, Source], skip: Collection[str]
) -> set[int]:
    """Papers the profile must not get: already sent, or about an excluded word (unless a
    followed author wrote them)."""
    about: set[int] = set()
    for phrase in profile.exclude:
        about |= _about(index, phrase)
    about = {row for row in about if sources.get(row, ("topic", ""))[0] != "author"}
    return about | {index.position[p] for p in skip if p in index.position}


def _about(index: PaperIndex, phrase: str) -> set[int]:
    """Papers whose title or abstract has every content word of `phrase`."""
    key = f"exclude:{phrase}"
    cached = index.cache.get(key)
    if isinstance(cached, set):
        return cached
    stems = [index.vocabulary.get(s) for s in index.stems(phrase)]
    found: set[int] = set()
    if stems and None not in stems:
        columns = index.anywhere[:, [s for s in stems if s is not None]]
        found = set(np.flatnonzero(np.asarray(columns.sum(axis=1)).ravel() == len(stems)))
    index.cache[key] = found
    return found


def _by_followed_authors(index: PaperIndex, authors: Sequence[str]) -> Iterator[tuple[int, str]]:
    followed = [(normalise_name(a), a) for a in authors if a.strip()]
    if not followed:
        return
    for paper, names in enumerate(index.authors):
        for key, shown in followed:
            if any(names_match(key, name) for name in names):
                yield paper, shown
                break


def _topics(profile: Profile) -> list[str]:
    return list(dict.fromkeys(t for t in profile.topics if t.strip()))[:MAX_TOPICS]


def _batches(profiles: Sequence[Profile]) -> Iterator[list[int]]:
    """Profile positions in batches of equal topic count (so the gather is dense)."""
    by_count: dict[int, list[int]] = {}
    for n, profile in enumerate(profiles):
        by_count.setdefault(len(_topics(profile)), []).append(n)
    for members in by_count.values():
        for start in range(0, len(members), BATCH_SIZE):
            yield members[start : start + BATCH_SIZE]
