"""Ingest speed: a large arXiv listing parsed and stored, on SQLite and PostgreSQL.

    uv run python bench/ingest.py                 # 2,000 entries, SQLite and PostgreSQL
    uv run python bench/ingest.py -n 5000 --db sqlite

The feed is generated in the rss.arxiv.org RSS 2.0 shape from real papers in
../shared/data/corpus/arxiv-daily-cs/papers.jsonl. Prints, per database, the seconds and
entries/s to parse and store it into a fresh, migrated database, the same for a second run
(everything unchanged), and the process's peak RSS. As a baseline from the same
run: feedparser (what most peers use) parsing the same bytes, without storing anything.
Target: 2,000 entries parsed and stored in under 5 s on SQLite. PostgreSQL needs a server
at 127.0.0.1:5432 (DIGEST_TEST_PG_URL to override); it is skipped when unreachable.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from _databases import PG_ADMIN, fresh_database, postgres_reachable

from digest.sources.arxiv_rss import parse_listing
from digest.sources.text import decode_body
from digest.store import migrations
from digest.store.engine import open_engine, transaction
from digest.store.papers import ingest_entries

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
NOW = datetime(2026, 6, 2, 4, 0, tzinfo=UTC)


def arxiv_rss(count: int) -> bytes:
    """`count` corpus papers as one rss.arxiv.org RSS 2.0 listing."""
    items = []
    with CORPUS.open() as lines:
        for index, line in zip(range(count), lines, strict=False):
            paper = json.loads(line)
            kind = ("new", "cross", "new", "replace")[index % 4]
            version = 2 if kind == "replace" else 1
            categories = "".join(f"<category>{c}</category>" for c in paper["categories"])
            items.append(
                f"<item><title>{escape(paper['title'])}</title>"
                f"<link>https://arxiv.org/abs/{paper['id']}</link>"
                f"<description>arXiv:{paper['id']}v{version} Announce Type: {kind} \n"
                f"Abstract: {escape(paper['abstract'])}</description>"
                f'<guid isPermaLink="false">oai:arXiv.org:{paper["id"]}v{version}</guid>'
                f"{categories}<pubDate>Tue, 02 Jun 2026 00:00:00 -0400</pubDate>"
                f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
                f"<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
                f"<dc:creator>{escape(', '.join(paper['authors']))}</dc:creator></item>"
            )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
        "<title>cs updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def parse_and_store(body: bytes, url: str) -> tuple[float, float, str]:
    """Seconds for a first run and a second (unchanged) run, and the counts of the first."""
    engine = open_engine(url)
    migrations.upgrade(engine)
    timings = []
    counts = ""
    for _ in range(2):
        started = time.perf_counter()
        parsed = parse_listing(decode_body(body)[0], source="bench")
        with transaction(engine) as session:
            result = ingest_entries(session, parsed.entries, now=NOW)
        timings.append(time.perf_counter() - started)
        counts = counts or f"new={result.new} updated={result.updated}"
    engine.dispose()
    return timings[0], timings[1], counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--entries", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    body = arxiv_rss(args.entries)
    print(f"feed: {args.entries} entries, {len(body) / 1e6:.1f} MB (rss.arxiv.org RSS 2.0 shape)")

    started = time.perf_counter()
    baseline = feedparser.parse(body)
    seconds = time.perf_counter() - started
    rate = len(baseline.entries) / seconds
    print(f"baseline  feedparser parse only: {seconds:6.2f} s  {rate:8.0f} entries/s")

    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        if kind == "postgresql" and not postgres_reachable():
            print(f"{kind:10} skipped: PostgreSQL not reachable at {PG_ADMIN}")
            continue
        with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, Path(tmp)) as url:
            first, second, counts = parse_and_store(body, url)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            verdict = "ok" if kind != "sqlite" or first < 5 else "SLOWER THAN TARGET (5 s)"
            print(
                f"{kind:10} parse+store: {first:6.2f} s  {args.entries / first:8.0f} entries/s"
                f"  ({counts});  again, unchanged: {second:5.2f} s;"
                f"  peak RSS so far {peak:4.0f} MB  [{verdict}]"
            )


if __name__ == "__main__":
    main()
