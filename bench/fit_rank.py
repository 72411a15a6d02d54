"""Fit the ranking's constants on the development sets, cross-validated across days.

    uv run python bench/fit_rank.py          # fit, cross-validate, print every day's figures

What it fits (see digest/rank/weights.py, where the results are pasted):
- the topic model: logistic regression of "grade >= 2" on (cos, zcos, cov, covt) of each
  profile's best topic for each paper of the day (every unjudged paper counts as grade 0),
  with and without sentence vectors (WITH_MEANING, WORDS_ONLY);
- the liked-paper model: the same for library-only readers (feed-dev2's profiles with no
  topics and their grade-3 papers of their other days as their library) on (cos, zcos,
  words, zwords) of each paper's closest liked paper (LIKED, LIKED_WORDS_ONLY);
- SEND_PROBABILITY: the probability a paper must reach to be sent;
- ON_ITS_OWN: the same regression on the features that do not depend on the rest of the
  day (cos, cov, covt), with the bar it must reach on its own (OWN_BARS) folded into its
  bias, so that the larger of the two log-odds decides against SEND_PROBABILITY.

How it is measured: leave one day out AND a quarter of the profiles out — fit on the other
days' other profiles, rank the held-out cell with the production code (`rank_profiles`)
under the fold's constants — so every figure printed is on a day and profiles the fit never
saw, library-only readers likewise; each held-out query is also measured on two dense days
of its own (`HELD_OUT_DENSE`) and on a drawn quiet day of papers it did not grade relevant
(`HELD_OUT_QUIET`, `devsets.quiet_draw`), which the fit never saw either. CSFCube is never
fitted on: it measures the liked model fitted on the library-only readers. Every day is
printed next to TF-IDF and BM25.
"""

from __future__ import annotations

import math
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import devsets as ds

from digest.rank import PaperIndex, Vectors, build_index, rank_profiles, weights
from digest.rank.score import feedback, standardised
from digest.rank.topics import compile_topic, coverage
from digest.records import Paper, Profile

TOPIC_FEATURES = ("cos", "zcos", "cov", "covt", "zfeed")
THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.1, 0.81, 0.05))
PRECISION = 0.70  # the share of sent papers that should be clearly relevant
HELD_OUT_DENSE = ("held-out-1", "held-out-2")  # those each held-out query is measured on
HELD_OUT_QUIET = ("held-out-quiet",)  # a drawn quiet day for each held-out query
OWN_FEATURES = (0, 2, 3)  # cos, cov, covt: what does not depend on the rest of the day
LIKED_OWN_FEATURES = (0, 2)  # cos, words
OWN_BARS = (0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2)  # tried, strictest first
SILENT = weights.TopicModel(bias=-1e9, cos=0.0, zcos=0.0, cov=0.0, covt=0.0)  # no own route
LIKED_SILENT = weights.LikedModel(bias=-1e9, cos=0.0, words=0.0)


class Vectors_:
    """The development sets' paper vectors (embedded once, cached) and topic vectors."""

    def __init__(self, queries: Sequence[ds.Query]) -> None:
        self.papers = ds.paper_vectors(queries)
        self.topics: dict[str, np.ndarray] = {}
        self.embed_topics({t for q in queries for t in q.topics})

    def embed_topics(self, texts: set[str]) -> None:
        from digest.rank.embed import load_embedder

        fresh = sorted(t for t in texts if t not in self.topics)
        if fresh:
            self.topics.update(zip(fresh, load_embedder().embed(fresh), strict=True))


def as_paper(p: ds.DevPaper) -> Paper:
    return Paper(
        id=p.id, title=p.title, abstract=p.abstract, authors=p.authors, categories=p.categories
    )


def as_profile(q: ds.Query) -> Profile:
    return Profile(
        id=q.id,
        topics=q.topics,
        categories=q.categories,
        exclude=q.exclude,
        liked=tuple(as_paper(p) for p in q.liked),
    )


class Days:
    """One index per day (with its papers' vectors)."""

    def __init__(self, vectors: Vectors_, *, meaning: bool = True) -> None:
        self.vectors = vectors
        self.meaning = meaning
        self.indexes: dict[str, PaperIndex] = {}

    def index(self, q: ds.Query) -> PaperIndex:
        key = q.id if q.pool else q.day
        if key not in self.indexes:
            papers = [as_paper(p) for p in ds.candidates(q)]
            stacked = (
                np.stack([self.vectors.papers[p.id] for p in papers]) if self.meaning else None
            )
            self.indexes[key] = build_index(papers, vectors=stacked)
        return self.indexes[key]


def topic_features(days: Days, q: ds.Query, first: weights.TopicModel) -> np.ndarray:
    """Topics x papers x TOPIC_FEATURES for one query, from the production code; `first`
    is the model whose first four weights pick each topic's feedback papers."""
    index = days.index(q)
    topics = [compile_topic(index, t) for t in q.topics]
    cov, covt = coverage(index, topics)
    if index.vectors is None:
        zero = np.zeros_like(cov)
        return np.stack([zero, zero, cov, covt, zero], axis=-1)
    cos = np.stack([days.vectors.topics[t] for t in q.topics]) @ index.vectors.T
    zcos = standardised(cos)
    guess = first.bias + first.cos * cos + first.zcos * zcos + first.cov * cov + first.covt * covt
    return np.stack([cos, zcos, cov, covt, feedback(index.vectors, guess)], axis=-1)


def fit_topic_model(
    days: Days, train: Sequence[ds.Query], columns: Sequence[int]
) -> weights.TopicModel:
    """Logistic regression on the features of each paper's best topic (found iteratively)."""
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros(len(TOPIC_FEATURES))
    coef[columns[0]] = 1.0
    bias = 0.0
    for _ in range(3):
        xs, ys = [], []
        first = weights.TopicModel(bias, *coef[:4])
        for q in train:
            features = topic_features(days, q, first)
            best = (features @ coef + bias).argmax(axis=0)
            xs.append(features[best, np.arange(features.shape[1])][:, columns])
            index = days.index(q)
            ys.append(np.array([q.qrels.get(p.id, 0) >= 2 for p in index.papers]))
        model = LogisticRegression(C=1.0, max_iter=5000)
        model.fit(np.concatenate(xs), np.concatenate(ys))
        coef = np.zeros(len(TOPIC_FEATURES))
        coef[list(columns)] = model.coef_[0]
        bias = float(model.intercept_[0])
    return weights.TopicModel(bias, *(float(c) for c in coef))


def _fit_on_best(
    days: Days,
    train: Sequence[ds.Query],
    features_of: Callable[[ds.Query], np.ndarray],
    coef: np.ndarray,
    columns: Sequence[int],
) -> tuple[float, list[float]]:
    """Logistic regression of "grade >= 2" on `columns` of the features of each paper's best
    topic (or liked paper) by the in-context weights `coef`: (bias, weights)."""
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for q in train:
        features = features_of(q)
        best = (features @ coef).argmax(axis=0)
        xs.append(features[best, np.arange(features.shape[1])][:, list(columns)])
        ys.append(np.array([q.qrels.get(p.id, 0) >= 2 for p in days.index(q).papers]))
    fitted = LogisticRegression(C=1.0, max_iter=5000).fit(np.concatenate(xs), np.concatenate(ys))
    return float(fitted.intercept_[0]), [float(c) for c in fitted.coef_[0]]


def fit_own_model(days: Days, train: Sequence[ds.Query]) -> weights.TopicModel:
    """A topic and a paper on their own merits: (cos, cov, covt) of each paper's best topic
    by the in-context model (WITH_MEANING as set)."""
    model = weights.WITH_MEANING
    coef = np.array([model.cos, model.zcos, model.cov, model.covt, model.zfeed])
    bias, (cos, cov, covt) = _fit_on_best(
        days, train, lambda q: topic_features(days, q, model), coef, OWN_FEATURES
    )
    return weights.TopicModel(bias, cos=cos, zcos=0.0, cov=cov, covt=covt)


def fit_liked_own_model(days: Days, train: Sequence[ds.Query]) -> weights.LikedModel:
    """A liked paper and a paper on their own merits: (cos, words) of each paper's closest
    liked paper by the in-context liked model (LIKED as set)."""
    model = weights.LIKED
    coef = np.array([model.cos, model.zcos, model.words, model.zwords])
    bias, (cos, words) = _fit_on_best(
        days, train, lambda q: liked_features(days, q), coef, LIKED_OWN_FEATURES
    )
    return weights.LikedModel(bias, cos=cos, words=words)


Own = TypeVar("Own", weights.TopicModel, weights.LikedModel)


def discounted(own: Own, bar: float, send: float) -> Own:
    """`own` with its bias lowered so that its log-odds reach those of `send` exactly when
    its own probability reaches `bar`."""
    return replace(own, bias=own.bias - _logit(bar) + _logit(send))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def set_own_route(days: Days, train: Sequence[ds.Query], name: str, own: Own, silent: Own) -> float:
    """Set the constant `name` to `own`, discounted to the lowest bar at which the training
    queries' sent papers stay at least `PRECISION` clearly relevant, or as relevant as
    without it when they were less (SEND_PROBABILITY as set); to `silent` when no bar does.
    Returns the bar (1.0: silent)."""
    with_constants(**{name: silent})
    floor = min(PRECISION, ds.measure(send(days, train), train).precision)
    chosen = 1.0
    for bar in OWN_BARS:
        with_constants(**{name: discounted(own, bar, weights.SEND_PROBABILITY)})
        if ds.measure(send(days, train), train).precision < floor:
            break
        chosen = bar
    model = discounted(own, chosen, weights.SEND_PROBABILITY) if chosen < 1.0 else silent
    with_constants(**{name: model})
    return chosen


def fit_own_route(days: Days, train: Sequence[ds.Query]) -> tuple[weights.TopicModel, float]:
    """The own-merits model and its bar, fitted on `train`; ON_ITS_OWN set (discounted)."""
    own = fit_own_model(days, train)
    return own, set_own_route(days, train, "ON_ITS_OWN", own, SILENT)


def fit_liked_own_route(days: Days, train: Sequence[ds.Query]) -> tuple[weights.LikedModel, float]:
    """The liked papers' own-merits model and its bar; LIKED_ON_ITS_OWN set (discounted)."""
    own = fit_liked_own_model(days, train)
    return own, set_own_route(days, train, "LIKED_ON_ITS_OWN", own, LIKED_SILENT)


def profile_fold(q: ds.Query) -> int:
    return zlib.crc32(q.id.split("@")[0].encode()) % 4


def feed_folds(queries: Sequence[ds.Query]) -> Iterator[tuple[list[ds.Query], list[ds.Query]]]:
    """Held-out (day, quarter of the profiles) cells, each with the training queries that
    share neither its day nor its profiles."""
    for day in sorted({q.day for q in queries}):
        for fold in range(4):
            test = [q for q in queries if q.day == day and profile_fold(q) == fold]
            train = [q for q in queries if q.day != day and profile_fold(q) != fold]
            if test:
                yield train, test


def send(days: Days, queries: Sequence[ds.Query], max_items: int = 10) -> dict[str, list[str]]:
    """What the production ranking sends each query under the current constants."""
    out = {}
    for q in queries:
        vectors = (
            Vectors(topics=days.vectors.topics, papers=days.vectors.papers)
            if days.meaning
            else None
        )
        picks = rank_profiles(days.index(q), [as_profile(q)], max_items=max_items, vectors=vectors)[
            0
        ]
        out[q.id] = [p.paper.id for p in picks]
    return out


def with_constants(**changes: object) -> None:
    for name, value in changes.items():
        setattr(weights, name, value)


def choose_threshold(days: Days, train: Sequence[ds.Query]) -> float:
    """The lowest send probability at which the training queries' sent papers are at
    least `PRECISION` clearly relevant: as much recall (and so nDCG) as that precision
    allows. The same bar decides quiet days."""
    for threshold in THRESHOLDS:
        with_constants(SEND_PROBABILITY=threshold)
        if ds.measure(send(days, train), train).precision >= PRECISION:
            return threshold
    return THRESHOLDS[-1]


def drawn_days(queries: Sequence[ds.Query]) -> tuple[list[ds.Query], list[ds.Query]]:
    """The dense days and drawn quiet days each of `queries` is also measured on."""
    return ds.dense_days(queries, HELD_OUT_DENSE), ds.quiet_draws(queries, HELD_OUT_QUIET)


def cross_validate(
    days: Days, queries: Sequence[ds.Query], columns: Sequence[int], name: str
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Held-out sends (with the cut-off) and held-out top 10 (the ranking alone, no cut-off)."""
    sent: dict[str, list[str]] = {}
    top: dict[str, list[str]] = {}
    chosen, bars = [], []
    shipped = {
        name: getattr(weights, name),
        "SEND_PROBABILITY": weights.SEND_PROBABILITY,
        "ON_ITS_OWN": weights.ON_ITS_OWN,
    }
    for train, test in feed_folds(queries):
        model = fit_topic_model(days, train, columns)
        with_constants(**{name: model, "ON_ITS_OWN": SILENT})
        threshold = choose_threshold(days, train)
        chosen.append(threshold)
        with_constants(SEND_PROBABILITY=threshold)
        if days.meaning:
            bars.append(fit_own_route(days, train)[1])
        dense, quiet = drawn_days(test)
        test = [*test, *dense, *quiet]
        sent.update(send(days, test))
        with_constants(SEND_PROBABILITY=1e-9)
        top.update(send(days, test))
    print(f"  thresholds chosen per fold: {sorted(chosen)}")
    if bars:
        print(f"  bars on its own chosen per fold: {sorted(bars)}")
    with_constants(**shipped)
    return sent, top


LIKED_FEATURES = ("cos", "zcos", "words", "zwords")
LIBRARY_SIZE = 5  # library papers a simulated reader brings


def library_queries(feeds: Sequence[ds.Query]) -> list[ds.Query]:
    """feed-dev2 as library-only readers: each profile's library is its grade-3 papers of
    its other days (at most `LIBRARY_SIZE`), judged on this day's papers by its labels."""
    papers = {p.id: p for day in {q.day for q in feeds} for p in ds.day_papers(day)}
    out = []
    for q in feeds:
        if q.set != "feed-dev2":
            continue
        others = [o for o in feeds if o.set == q.set and o.id != q.id and same_profile(o, q)]
        chosen = sorted(p for o in others for p, grade in o.qrels.items() if grade == 3)
        if chosen:
            liked = tuple(papers[p] for p in chosen[:LIBRARY_SIZE])
            out.append(ds.Query(q.id, "library", q.day, (), q.qrels, liked=liked))
    return out


def same_profile(a: ds.Query, b: ds.Query) -> bool:
    return a.id.split("@")[0] == b.id.split("@")[0]


def liked_features(days: Days, q: ds.Query) -> np.ndarray:
    """Liked papers x candidates x LIKED_FEATURES, from the production code."""
    from digest.rank.score import standardised, word_cosine

    index = days.index(q)
    words = word_cosine(index, [as_paper(p) for p in q.liked])
    if index.vectors is None:
        zero = np.zeros_like(words)
        return np.stack([zero, zero, words, standardised(words)], axis=-1)
    cos = np.stack([days.vectors.papers[p.id] for p in q.liked]) @ index.vectors.T
    return np.stack([cos, standardised(cos), words, standardised(words)], axis=-1)


def fit_liked_model(
    days: Days, train: Sequence[ds.Query], columns: Sequence[int]
) -> weights.LikedModel:
    """Logistic regression on the features of each paper's closest liked paper (found
    iteratively, as for topics)."""
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros(len(LIKED_FEATURES))
    coef[columns[0]] = 1.0
    bias = 0.0
    for _ in range(3):
        xs, ys = [], []
        for q in train:
            features = liked_features(days, q)
            best = (features @ coef + bias).argmax(axis=0)
            xs.append(features[best, np.arange(features.shape[1])][:, columns])
            ys.append(np.array([q.qrels.get(p.id, 0) >= 2 for p in days.index(q).papers]))
        model = LogisticRegression(C=1.0, max_iter=5000)
        model.fit(np.concatenate(xs), np.concatenate(ys))
        coef = np.zeros(len(LIKED_FEATURES))
        coef[list(columns)] = model.coef_[0]
        bias = float(model.intercept_[0])
    named = dict(zip(LIKED_FEATURES, (float(c) for c in coef), strict=True))
    return weights.LikedModel(bias=bias, **named)


def cross_validate_library(
    days: Days, queries: Sequence[ds.Query]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Library-only readers, held out by day and profiles: sends at the shipped bar (the
    one every digest uses) and the ranking's top 10."""
    sent: dict[str, list[str]] = {}
    top: dict[str, list[str]] = {}
    shipped = {
        "LIKED": weights.LIKED,
        "LIKED_ON_ITS_OWN": weights.LIKED_ON_ITS_OWN,
        "SEND_PROBABILITY": weights.SEND_PROBABILITY,
    }
    bars = []
    for train, test in feed_folds(queries):
        with_constants(LIKED=fit_liked_model(days, train, [0, 1, 2, 3]))
        bars.append(fit_liked_own_route(days, train)[1])
        sent.update(send(days, test))
        with_constants(SEND_PROBABILITY=1e-9)
        top.update(send(days, test))
        with_constants(SEND_PROBABILITY=shipped["SEND_PROBABILITY"])
    print(f"  liked papers' bars on their own chosen per fold: {sorted(bars)}")
    with_constants(**shipped)
    return sent, top


def library_baselines(queries: Sequence[ds.Query]) -> dict[str, list[str]]:
    """TF-IDF with each library paper as a query, the best one counting; fixed top 10."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = {}
    for q in queries:
        papers = ds.candidates(q)
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        docs = vec.fit_transform([ds.text_of(p) for p in papers])
        scores = (docs @ vec.transform([ds.text_of(p) for p in q.liked]).T).toarray().max(axis=1)
        out[q.id] = ds.top10(scores, papers)
    return out


def liked_runs(
    days: Days, libs: Sequence[ds.Query], cs: Sequence[ds.Query]
) -> dict[str, dict[str, list[str]]]:
    """Library-only readers (held out by day and profiles) and CSFCube (wholly held out:
    the liked model is fitted on the library-only readers), next to their baselines."""
    runs = {
        "TF-IDF": {**library_baselines(libs), **ds.tfidf_run(cs)},
        "BM25": ds.bm25_run(cs),
        "MiniLM alone": ds.vector_run(
            [*libs, *cs], days.vectors.papers.__getitem__, days.vectors.topics.__getitem__
        ),
    }
    sent, top = cross_validate_library(days, libs)
    shipped = {
        "LIKED": weights.LIKED,
        "LIKED_ON_ITS_OWN": weights.LIKED_ON_ITS_OWN,
        "SEND_PROBABILITY": weights.SEND_PROBABILITY,
    }
    with_constants(LIKED=fit_liked_model(days, libs, [0, 1, 2, 3]))
    fit_liked_own_route(days, libs)
    sent.update(send(days, cs))
    with_constants(SEND_PROBABILITY=1e-9)
    top.update(send(days, cs))
    with_constants(**shipped)
    runs["ours, cross-validated"], runs["ours, CV, ranked top 10"] = sent, top
    return runs


def print_liked_runs(
    runs: dict[str, dict[str, list[str]]], libs: Sequence[ds.Query], cs: Sequence[ds.Query]
) -> None:
    print("\nlibrary-only readers: feed-dev2's profiles with their grade-3 papers of their other")
    print("days as their library and no topics (TF-IDF and MiniLM: the best library paper counts)")
    groups = [(f"{day} (library)", items) for day, items in sorted(ds.by_day(libs).items())]
    groups.append(("CSFCube (one liked paper; linear gain; wholly held out)", list(cs)))
    for name, items in groups:
        print(f"{name} ({len(items)} queries)")
        for label, run in runs.items():
            if all(q.id in run for q in items):
                print(f"  {label:26s} {ds.measure(run, items).row()}")


def main() -> None:
    queries = ds.feed_queries()
    vectors = Vectors_([*queries, *ds.csfcube_queries()])
    days = Days(vectors)
    words = Days(vectors, meaning=False)
    dense, drawn_quiet = drawn_days(queries)
    both = [*queries, *dense, *drawn_quiet]
    baselines = {"TF-IDF": ds.tfidf_run(both), "BM25": ds.bm25_run(both)}
    baselines["MiniLM alone"] = ds.vector_run(
        both, vectors.papers.__getitem__, vectors.topics.__getitem__
    )
    runs = dict(baselines)
    print("cross-validating words + meaning ...")
    sent, top = cross_validate(days, queries, [0, 1, 2, 3, 4], "WITH_MEANING")
    runs["ours (words + meaning)"], runs["ours, ranked top 10"] = sent, top
    print("cross-validating words only ...")
    runs["ours (words only)"] = cross_validate(words, queries, [2, 3], "WORDS_ONLY")[0]
    print(
        "\nnDCG@10 / sent grade>=2 / grade-3 sent / quiet sent nothing  (held-out day and profiles)"
    )
    for day, items in sorted(ds.by_day(queries).items()):
        print(day, f"({len(items)} queries)")
        for label, sent in runs.items():
            print(f"  {label:24s} {ds.measure(sent, items).row()}")
    full = [q for q in queries if q.set == "feed-dev2" and q.day != ds.QUIET_DAY]
    for label, group in (
        ("feed-dev2 full days", full),
        ("dense 120-paper days", dense),
        ("drawn quiet 88-paper days", drawn_quiet),
    ):
        print(label, f"({len(group)} queries)")
        for name, sent in runs.items():
            print(f"  {name:24s} {ds.measure(sent, group).row()}")
    libs, cs = library_queries(queries), ds.csfcube_queries()
    print_liked_runs(liked_runs(days, libs, cs), libs, cs)
    print("\nfinal fit on every day (paste into digest/rank/weights.py):")
    final = fit_topic_model(days, queries, [0, 1, 2, 3, 4])
    words_only = fit_topic_model(words, queries, [2, 3])
    with_constants(WITH_MEANING=final, WORDS_ONLY=words_only, ON_ITS_OWN=SILENT)
    print(f"  WITH_MEANING = {final}")
    print(f"  WORDS_ONLY = {words_only}")
    liked = fit_liked_model(days, libs, [0, 1, 2, 3])
    with_constants(LIKED=liked)
    print(f"  LIKED = {liked}")
    print(f"  LIKED_WORDS_ONLY = {fit_liked_model(words, libs, [2, 3])}")
    liked_own, liked_bar = fit_liked_own_route(days, libs)
    print(f"  liked papers on their own, fitted: {liked_own}; bar {liked_bar}")
    print(f"  LIKED_ON_ITS_OWN = {weights.LIKED_ON_ITS_OWN}")
    threshold = choose_threshold(days, queries)
    with_constants(SEND_PROBABILITY=threshold)
    print(f"  SEND_PROBABILITY = {threshold}")
    own, bar = fit_own_route(days, queries)
    print(f"  on its own, fitted: {own}; bar {bar}")
    print(f"  ON_ITS_OWN = {weights.ON_ITS_OWN}")


if __name__ == "__main__":
    main()
