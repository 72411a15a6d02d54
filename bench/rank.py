"""Ranking quality and speed, next to baselines computed in the same run.

    uv run python bench/rank.py            # quality (every development day, CSFCube) and speed
    uv run python bench/rank.py --quality  # quality only
    uv run python bench/rank.py --speed    # speed only

Quality, per development day (feed-dev: 2026-06-02; feed-dev2: 2026-05-12, 2026-06-16 and the
quiet 2026-05-16) and for CSFCube: nDCG@10 of what is sent / share sent with grade >= 2 /
share of grade-3 papers sent / share of quiet profiles sent nothing, for TF-IDF, BM25 and
MiniLM alone (each a fixed top 10) and for the ranking: cross-validated (fitted without that
day and without those profiles, see bench/fit_rank.py) and with the shipped constants
(fitted on every day, so in-sample). Also on dense days (`devsets.dense_day`: a query's
relevant papers among random others of its day, 120 papers, as on a Hugging Face daily list),
two per query, held out with their query, and on drawn quiet days (`devsets.quiet_draw`: 88
random papers of the query's day that it did not grade relevant), one per query. The first run
embeds the ~6,000 development papers once (cached in bench/.cache).

Speed: 100,000 synthetic profiles of 1-5 topics (phrases found in the corpus titles, their
vectors computed beforehand, as the store keeps them) against the 713 papers of 2026-06-02
(vectors computed beforehand, as the store keeps them), each method in its own process:
wall time and peak RSS, next to a scikit-learn TF-IDF top 10. Target: at most 3x the
baseline's time and < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import devsets as ds  # noqa: E402
import fit_rank as fr  # noqa: E402
from _processes import peak_rss_mb  # noqa: E402

from digest.rank import Vectors, build_index, rank_profiles  # noqa: E402
from digest.records import Paper, Profile  # noqa: E402

DATA = ds.DATA
DAY = ds.FEED_DEV_DAY
STOP = frozenset(
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
        "via",
    ]
)
TOPIC_CACHE = ROOT / "bench" / ".cache" / "speed-topics.npz"


def bench_quality() -> None:
    feeds = ds.feed_queries()
    cs = ds.csfcube_queries()
    vectors = fr.Vectors_([*feeds, *cs])
    days = fr.Days(vectors)
    dense, drawn_quiet = fr.drawn_days(feeds)
    both = [*feeds, *dense, *drawn_quiet]
    runs = {
        "TF-IDF": ds.tfidf_run(both),
        "BM25": ds.bm25_run(both),
        "MiniLM alone": ds.vector_run(both, vectors.papers.__getitem__, vectors.topics.__getitem__),
        "ours, shipped constants": fr.send(days, both),
    }
    held_out, held_out_top = fr.cross_validate(days, feeds, [0, 1, 2, 3, 4], "WITH_MEANING")
    runs["ours, cross-validated"] = held_out
    runs["ours, CV, ranked top 10"] = held_out_top
    print("nDCG@10 / sent grade>=2 / grade-3 sent / quiet sent nothing")
    print("(baselines send a fixed top 10; 'ranked top 10' is the ranking without its cut-off)")
    groups = sorted(ds.by_day(feeds).items())
    groups.append(
        (
            "feed-dev2 full days",
            [q for q in feeds if q.set == "feed-dev2" and q.day != ds.QUIET_DAY],
        )
    )
    groups.append(("dense 120-paper days, two per query with 5+ relevant papers", dense))
    groups.append(("drawn quiet 88-paper days, none graded relevant to the query", drawn_quiet))
    for name, items in groups:
        print(f"{name} ({len(items)} queries)")
        for label, run in runs.items():
            print(f"  {label:26s} {ds.measure(run, items).row()}")
    libs = fr.library_queries(feeds)
    fr.print_liked_runs(fr.liked_runs(days, libs, cs), libs, cs)


def synthetic_profiles(count: int, seed: int = 7) -> list[Profile]:
    phrases: Counter[str] = Counter()
    with (DATA / "corpus" / "arxiv-daily-cs" / "papers.jsonl").open() as lines:
        for line in lines:
            words = re.findall(r"[A-Za-z][A-Za-z0-9-]+", json.loads(line)["title"].lower())
            for n in (1, 2, 3):
                for i in range(len(words) - n + 1):
                    gram = words[i : i + n]
                    if gram[0] not in STOP and gram[-1] not in STOP:
                        phrases[" ".join(gram)] += 1
    pool = sorted(p for p, c in phrases.items() if c >= 3 and (" " in p or c >= 20))
    rng = random.Random(seed)
    return [
        Profile(id=str(i), topics=tuple(rng.sample(pool, rng.randint(1, 5)))) for i in range(count)
    ]


def day_papers() -> list[Paper]:
    return [fr.as_paper(p) for p in ds.day_papers(DAY)]


def stored_vectors(papers: list[Paper], profiles: list[Profile]) -> tuple[np.ndarray, Vectors]:
    """What the store would hand over: the day's paper vectors and every topic's vector
    (embedded once here and cached, as subscribers' topics are embedded when saved)."""
    from digest.rank.embed import load_embedder

    by_paper = ds.paper_vectors([q for q in ds.feed_queries() if q.day == DAY])
    topics = sorted({t for p in profiles for t in p.topics})
    known: dict[str, np.ndarray] = {}
    if TOPIC_CACHE.exists():
        with np.load(TOPIC_CACHE) as saved:
            known = dict(zip(saved["topics"].tolist(), saved["vectors"], strict=True))
    fresh = [t for t in topics if t not in known]
    if fresh:
        known.update(zip(fresh, load_embedder().embed(fresh), strict=True))
        names = sorted(known)
        np.savez(TOPIC_CACHE, topics=np.array(names), vectors=np.stack([known[n] for n in names]))
    return np.stack([by_paper[p.id] for p in papers]), Vectors(topics=known)


def speed_child(method: str, count: int) -> None:
    papers = day_papers()
    profiles = synthetic_profiles(count)
    day, vectors = stored_vectors(papers, profiles) if method == "digest" else (None, None)
    start = time.perf_counter()
    if method == "digest":
        index = build_index(papers, vectors=day)
        picks = rank_profiles(index, profiles, max_items=10, vectors=vectors)
        sent = sum(len(p) for p in picks)
    else:
        sent = sklearn_top_k(papers, profiles)
    elapsed = time.perf_counter() - start
    peak = peak_rss_mb()
    print(json.dumps({"seconds": elapsed, "peak_mb": peak, "sent": sent}))


def sklearn_top_k(papers: list[Paper], profiles: list[Profile]) -> int:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    docs = vectorizer.fit_transform([f"{p.title}. {p.abstract}" for p in papers]).T.tocsc()
    sent = 0
    for start in range(0, len(profiles), 4096):
        batch = profiles[start : start + 4096]
        queries = vectorizer.transform([" ".join(p.topics) for p in batch])
        scores = (queries @ docs).toarray()
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        sent += top.size
    return sent


def bench_speed(count: int) -> None:
    print(f"speed: {count:,} profiles of 1-5 topics against the {DAY} papers (own process each)")
    for method in ("sklearn-tfidf", "digest"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", method, "--profiles", str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {method:14} {figures['seconds']:6.2f} s  peak RSS {figures['peak_mb']:7.0f} MB  "
            f"papers sent {figures['sent']:,}"
        )
    print("  targets: digest at most 3x the TF-IDF time and < 1 GB (RSS includes loading the data)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        speed_child(args.child, args.profiles)
        return
    both = not (args.quality or args.speed)
    if args.quality or both:
        bench_quality()
    if args.speed or both:
        bench_speed(args.profiles)


if __name__ == "__main__":
    main()
