"""The ranking development sets, their measures and the word-only baselines.

Shared by `bench/rank.py` (figures next to baselines) and `bench/fit_rank.py` (fitting the
ranking's constants by cross-validation across days). Everything is read from
../shared/data/ranking and ../shared/data/corpus; nothing is copied into the package.

- feed-dev: 6 profiles on the 713 papers of 2026-06-02.
- feed-dev2: 24 profiles on 2026-05-12 (616 papers), 2026-06-16 (554) and the quiet
  2026-05-16 (88).
- csfcube: 50 seed papers ("a liked paper" profile) against their judged pools.
- dense days (`dense_day`): a feed query's clearly relevant papers (at most 20) among
  random others of its day, 120 papers in all: a small day crowded with the reader's field,
  as a Hugging Face daily list is for a machine-learning reader.

Measures (as the sets' READMEs define them): nDCG@10 of what is sent (gain 2^grade - 1) over
queries that have a paper of grade >= 2; the share of sent papers with grade >= 2; the share of
grade-3 papers sent (of at most 10 per query); the share of quiet queries (no paper of grade
>= 2) for which nothing is sent.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RANKING = DATA / "ranking"
CORPUS = DATA / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
FEED_DEV_DAY = "2026-06-02"
DAYS = ("2026-05-12", "2026-06-16", "2026-05-16", FEED_DEV_DAY)
QUIET_DAY = "2026-05-16"


@dataclass(frozen=True)
class DevPaper:
    id: str
    title: str
    abstract: str
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    """One profile on one day (or one CSFCube seed), with its graded judgments."""

    id: str
    set: str
    day: str
    topics: tuple[str, ...]
    qrels: dict[str, int]
    categories: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    liked: tuple[DevPaper, ...] = ()
    pool: tuple[str, ...] = field(default=())  # csfcube: its candidates; a dense day: its papers

    @property
    def quiet(self) -> bool:
        return not any(g >= 2 for g in self.qrels.values())


@cache
def day_papers(day: str) -> tuple[DevPaper, ...]:
    papers = []
    with CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["listing_date"] == day:
                papers.append(
                    DevPaper(
                        row["id"],
                        row["title"],
                        row["abstract"],
                        tuple(row.get("categories") or ()),
                        tuple(row.get("authors") or ()),
                    )
                )
    return tuple(papers)


def feed_queries() -> list[Query]:
    """feed-dev and feed-dev2, one query per (profile, day)."""
    queries = []
    for line in (RANKING / "feed-dev" / "profiles.jsonl").read_text().splitlines():
        row = json.loads(line)
        queries.append(_feed_query(row, "feed-dev", FEED_DEV_DAY))
    for line in (RANKING / "feed-dev2" / "profiles.jsonl").read_text().splitlines():
        row = json.loads(line)
        queries.append(_feed_query(row, "feed-dev2", row["day"]))
    return queries


def _feed_query(row: dict[str, object], name: str, day: str) -> Query:
    qrels = {str(k): int(v) for k, v in dict(row["qrels"]).items()}  # type: ignore[call-overload]
    return Query(
        id=str(row["id"]),
        set=name,
        day=day,
        topics=tuple(row["topics"]),  # type: ignore[arg-type]
        qrels=qrels,
        categories=tuple(row.get("categories") or ()),  # type: ignore[arg-type]
        exclude=tuple(row.get("exclude") or ()),  # type: ignore[arg-type]
    )


@cache
def csfcube_papers() -> dict[str, DevPaper]:
    papers = {}
    path = RANKING / "csfcube" / "abstracts-csfcube-reconstructed.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pid = str(row["paper_id"])
        papers[pid] = DevPaper(pid, row["title"], " ".join(row["abstract"]))
    return papers


def csfcube_queries() -> list[Query]:
    """Each seed paper (per facet) as a liked-paper profile against its judged pool."""
    papers = csfcube_papers()
    queries = []
    for facet in ("background", "method", "result"):
        path = RANKING / "csfcube" / f"test-pid2anns-csfcube-{facet}.json"
        for seed, ann in json.loads(path.read_text()).items():
            # One pool holds its own seed paper; it is never a result (as in the published runs).
            pool = tuple(str(c) for c in ann["cands"] if str(c) != str(seed))
            qrels = {
                str(c): int(g)
                for c, g in zip(ann["cands"], ann["relevance_adju"], strict=True)
                if str(c) != str(seed)
            }
            queries.append(
                Query(
                    id=f"{seed}-{facet}",
                    set="csfcube",
                    day=f"csfcube-{facet}",
                    topics=(),
                    qrels=qrels,
                    liked=(papers[str(seed)],),
                    pool=pool,
                )
            )
    return queries


def ndcg(
    ranked: Sequence[str], grades: dict[str, int], k: int = 10, *, linear: bool = False
) -> float:
    """nDCG@k with gain 2^grade - 1, or the grade itself when `linear` (CSFCube's own
    figures, e.g. SPECTER's 0.505, use linear gain)."""

    def gain(grade: int) -> float:
        return float(grade) if linear else 2.0**grade - 1

    dcg = sum(gain(grades.get(p, 0)) / math.log2(i + 2) for i, p in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    best = sum(gain(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


@dataclass
class Figures:
    ndcg: float
    precision: float
    grade3: float
    quiet: float
    sent: float
    queries: int
    quiet_queries: int

    def row(self) -> str:
        quiet = f"{self.quiet:.2f}" if self.quiet_queries else "  – "
        return (
            f"{self.ndcg:.3f} / {self.precision:.2f} / {self.grade3:.2f} / {quiet}"
            f"  (sends {self.sent:.1f})"
        )


def measure(sent: dict[str, list[str]], queries: Sequence[Query]) -> Figures:
    """The four measures over `queries`, from what each was sent (best first)."""
    nd, good, total, got3, want3, quiet_ok, quiet_n, sizes = [], 0, 0, 0, 0, 0, 0, []
    for q in queries:
        ranked = sent.get(q.id, [])
        sizes.append(len(ranked))
        if q.quiet:
            quiet_n += 1
            quiet_ok += not ranked
            continue
        nd.append(ndcg(ranked, q.qrels, linear=q.set == "csfcube"))
        good += sum(q.qrels.get(p, 0) >= 2 for p in ranked)
        total += len(ranked)
        threes = [p for p, g in q.qrels.items() if g == 3]
        got3 += min(10, sum(q.qrels.get(p, 0) == 3 for p in ranked))
        want3 += min(10, len(threes))
    return Figures(
        ndcg=float(np.mean(nd)) if nd else 0.0,
        precision=good / total if total else 1.0,
        grade3=got3 / want3 if want3 else 1.0,
        quiet=quiet_ok / quiet_n if quiet_n else 1.0,
        sent=float(np.mean(sizes)) if sizes else 0.0,
        queries=len(nd),
        quiet_queries=quiet_n,
    )


# Baselines -------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "with",
        "we",
        "our",
    ]
)


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class BM25:
    """Okapi BM25 (k1 1.2, b 0.75) over title + abstract, lower-cased words, small stop list."""

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = [Counter(_tokens(d)) for d in docs]
        self.lengths = np.array([sum(d.values()) for d in self.docs], dtype=float)
        self.avg = float(self.lengths.mean()) if len(docs) else 1.0
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.docs))
        norm = 1 - self.b + self.b * self.lengths / self.avg
        for term in set(_tokens(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self.docs], dtype=float)
            out += idf * tf * (self.k1 + 1) / (tf + self.k1 * norm)
        return out


def text_of(paper: DevPaper) -> str:
    return f"{paper.title}. {paper.abstract}"


def query_text(q: Query) -> str:
    return " ".join(q.topics) if q.topics else text_of(q.liked[0])


@cache
def _day_by_id(day: str) -> dict[str, DevPaper]:
    return {p.id: p for p in day_papers(day)}


def candidates(q: Query) -> tuple[DevPaper, ...]:
    if q.pool:
        papers = csfcube_papers() if q.set == "csfcube" else _day_by_id(q.day)
        return tuple(papers[p] for p in q.pool)
    return day_papers(q.day)


DENSE_SIZE = 120  # papers in a dense day
DENSE_RELEVANT = 20  # at most this many of them clearly relevant


def dense_day(q: Query, tag: str) -> Query | None:
    """`q` on a dense day drawn from its own day (see the module docstring), or None when
    it has fewer than five clearly relevant papers. The draw is fixed by `q.id` and `tag`."""
    relevant = sorted(p for p, g in q.qrels.items() if g >= 2)
    if len(relevant) < 5 or q.pool:
        return None
    draw = random.Random(f"{q.id}/{tag}")
    kept = draw.sample(relevant, min(DENSE_RELEVANT, len(relevant)))
    others = [p.id for p in day_papers(q.day) if q.qrels.get(p.id, 0) < 2]
    if len(kept) + len(others) < DENSE_SIZE:
        return None
    pool = (*kept, *draw.sample(others, DENSE_SIZE - len(kept)))
    grades = {p: q.qrels[p] for p in pool if p in q.qrels}
    return replace(q, id=f"{q.id}#{tag}", pool=pool, qrels=grades)


QUIET_SIZE = 88  # papers in a drawn quiet day, as on the real one (2026-05-16)


def quiet_draw(q: Query, tag: str) -> Query | None:
    """`q` on a quiet day drawn from its own day: `QUIET_SIZE` random papers it graded 0 or
    never judged, so the right digest is none as far as its labels tell (a never-judged
    paper may still be on topic). None for a query on a pool. The draw is fixed by `q.id`
    and `tag`."""
    if q.pool:
        return None
    draw = random.Random(f"{q.id}/{tag}")
    others = [p.id for p in day_papers(q.day) if q.qrels.get(p.id, 0) == 0]
    pool = tuple(draw.sample(others, min(QUIET_SIZE, len(others))))
    return replace(q, id=f"{q.id}~{tag}", pool=pool, qrels={p: 0 for p in pool if p in q.qrels})


def quiet_draws(queries: Sequence[Query], tags: Sequence[str]) -> list[Query]:
    """A drawn quiet day for every query that has something relevant, one per tag."""
    drawn = (quiet_draw(q, tag) for q in queries if not q.quiet for tag in tags)
    return [q for q in drawn if q is not None]


def dense_days(queries: Sequence[Query], tags: Sequence[str]) -> list[Query]:
    """Every dense day that `queries` give, one draw per tag."""
    drawn = (dense_day(q, tag) for q in queries for tag in tags)
    return [q for q in drawn if q is not None]


def top10(scores: np.ndarray, papers: Sequence[DevPaper]) -> list[str]:
    order = np.argsort(-scores, kind="stable")[:10]
    return [papers[i].id for i in order]


def bm25_run(queries: Sequence[Query]) -> dict[str, list[str]]:
    out = {}
    for q in queries:
        papers = candidates(q)
        out[q.id] = top10(BM25([text_of(p) for p in papers]).scores(query_text(q)), papers)
    return out


def tfidf_run(queries: Sequence[Query]) -> dict[str, list[str]]:
    """scikit-learn TF-IDF cosine, 1-2 grams, sublinear tf, fitted on the candidates."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = {}
    for q in queries:
        papers = candidates(q)
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")
        docs = vec.fit_transform([text_of(p) for p in papers])
        scores = (docs @ vec.transform([query_text(q)]).T).toarray().ravel()
        out[q.id] = top10(scores, papers)
    return out


def vector_run(
    queries: Sequence[Query],
    vector_of: Callable[[str], np.ndarray],
    topic_vector: Callable[[str], np.ndarray],
) -> dict[str, list[str]]:
    """Sentence-model cosine alone: best topic (or best liked paper), fixed top 10."""
    out = {}
    for q in queries:
        papers = candidates(q)
        docs = np.stack([vector_of(p.id) for p in papers])
        if q.topics:
            scores = (docs @ np.stack([topic_vector(t) for t in q.topics]).T).max(axis=1)
        else:
            scores = (docs @ np.stack([vector_of(p.id) for p in q.liked]).T).max(axis=1)
        out[q.id] = top10(scores, papers)
    return out


def paper_vectors(queries: Sequence[Query]) -> dict[str, np.ndarray]:
    """The sentence vectors of every candidate paper (and liked seed) of `queries`, embedded
    once with the packaged model and cached in bench/.cache (a model change re-embeds)."""
    from _vectors import cached_vectors

    from digest.rank.embed import paper_text

    papers = {p.id: p for q in queries for p in (*candidates(q), *q.liked)}
    texts = {key: paper_text(p.title, p.abstract) for key, p in papers.items()}
    return cached_vectors("papers", texts)


def by_day(queries: Sequence[Query]) -> dict[str, list[Query]]:
    days: dict[str, list[Query]] = {}
    for q in queries:
        days.setdefault(q.day, []).append(q)
    return days
