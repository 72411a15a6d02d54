"""Embedding speed: a 713-paper day embedded and stored as a fetch does, and topics as saves do.

    uv run python bench/embed.py                 # the 713 papers of 2026-06-02, SQLite
    uv run python bench/embed.py --papers 200    # a quicker look

The papers are the listing of 2026-06-02 in ../shared/data/corpus (the day feed-dev grades).
`ours` is what runs after a fetch (`pipeline.embed.embed_recent_papers`): the papers read
from a fresh SQLite database, embedded one text a model call, one call on each core at once
(no thread spins while it waits), and stored 32 a transaction. The baseline, in the same
run on the same texts, is how texts were embedded before: batches of 32 texts of similar
length, each call spread over every core by onnxruntime's own (spinning) threads, nothing
stored. Each prints wall seconds and
the process's CPU seconds (CPU above wall means more than one core busy). Then 1,000 distinct
topic phrases (title bigrams of other days) embedded and stored as `remember_topics` does.
Target: a 713-paper day in at most 90 s on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
sys.path.insert(0, str(ROOT))

import onnxruntime  # noqa: E402

from digest.pipeline.embed import embed_recent_papers, remember_topics  # noqa: E402
from digest.rank import embed  # noqa: E402
from digest.rank.embed import SentenceModel, paper_text  # noqa: E402
from digest.records import FeedEntry  # noqa: E402
from digest.store import migrations  # noqa: E402
from digest.store.engine import open_engine, transaction  # noqa: E402
from digest.store.papers import ingest_entries  # noqa: E402

DAY = "2026-06-02"
NOW = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,}")


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of this process, and the result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def corpus() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with CORPUS.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [r for r in rows if r["listing_date"] == DAY], [
        r for r in rows if r["listing_date"] != DAY
    ]


def topics_of(rows: list[dict[str, Any]], count: int) -> list[str]:
    phrases: dict[str, None] = {}
    for row in rows:
        words = [w.lower() for w in WORD.findall(str(row["title"]))]
        for a, b in itertools.pairwise(words):
            phrases.setdefault(f"{a} {b}")
            if len(phrases) >= count:
                return list(phrases)
    return list(phrases)


def baseline(texts: list[str]) -> None:
    """The earlier way: batches of 32 similar-length texts, spinning threads (the defaults)."""
    files = embed.model_files()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        str(files.model), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = embed._tokenizer(files.tokenizer, files.max_tokens)
    shipped, embed.BATCH = embed.BATCH, 32
    try:
        embedder = embed.Embedder(
            session, tokenizer, model_id=files.model_id, max_tokens=files.max_tokens
        )
        embedder.embed(texts)
    finally:
        embed.BATCH = shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=713, help="papers of the day to embed")
    parser.add_argument("--topics", type=int, default=1000, help="topic phrases to embed")
    args = parser.parse_args()
    day, others = corpus()
    day = day[: args.papers]
    entries = [
        FeedEntry("arxiv-ai", str(r["id"]), str(r["title"]), str(r["abstract"]), arxiv_id=r["id"])
        for r in day
    ]
    print(
        f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, onnxruntime "
        f"{onnxruntime.__version__}, load average {os.getloadavg()[0]:.1f} at the start"
    )
    model = SentenceModel()
    load, _, _ = timed(model.load)
    print(f"model {model.model_id} loaded in {load:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        migrations.upgrade(engine)
        with transaction(engine) as session:
            ingest_entries(session, entries, now=NOW - timedelta(hours=1))
        wall, cpu, count = timed(lambda: embed_recent_papers(engine, model, now=NOW))
        print(
            f"ours:     {count} papers embedded and stored in {wall:6.1f} s wall, {cpu:6.1f} s CPU"
            f"  ({1000 * wall / count:.0f} ms a paper; target: 713 in ≤ 90 s)"
        )
        texts = [paper_text(e.title, e.abstract) for e in entries]
        wall, cpu, _ = timed(lambda: baseline(texts))
        print(
            f"baseline: {len(texts)} papers, batches of 32, spinning threads {wall:6.1f} s wall, "
            f"{cpu:6.1f} s CPU  (nothing stored)"
        )
        topics = topics_of(others, args.topics)
        wall, cpu, _ = timed(lambda: remember_topics(engine, model, topics))
        print(
            f"topics:   {len(topics)} embedded and stored in {wall:6.1f} s wall, {cpu:6.1f} s CPU"
            f"  ({1000 * wall / len(topics):.1f} ms a topic)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
