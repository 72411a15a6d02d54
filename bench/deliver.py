"""End-to-end delivery speed: N subscribers, one day's papers, into Postfix's smtp-sink.

    uv run python bench/deliver.py            # 100,000 subscribers, SQLite then PostgreSQL
    uv run python bench/deliver.py -n 20000 --db sqlite

Subscribers get 1-3 synthetic topics (phrases found in the titles of ../shared/data/corpus);
the papers are the 713 of 2026-06-02. Prints, per database: the rank and render rates
(measured alone on a sample), the end-to-end digests/s of `deliver_due` (queue, claim, rank,
render, send over the SMTP pool, record), peak RSS, and, in the same run, the raw rate of
Postfix's `smtp-source` against the same sink: the ceiling. Targets: 100,000 digests in
under 60 s, peak RSS under 500 MB. Needs /usr/sbin/smtp-sink (Debian package `postfix`) and,
for PostgreSQL, a server at 127.0.0.1:5432 (DIGEST_TEST_PG_URL to override).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
DAY = "2026-06-02"
sys.path.insert(0, str(ROOT))

from _databases import fresh_database  # noqa: E402
from _postfix import postfix_tool  # noqa: E402
from _processes import ChildPeaks, cpu_seconds, server_cpu_seconds  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from digest.config import Settings, load_settings  # noqa: E402
from digest.pipeline.compose import DigestComposer  # noqa: E402
from digest.pipeline.deliver import deliver_due  # noqa: E402
from digest.records import FeedEntry  # noqa: E402
from digest.send.transport import SmtpTransport  # noqa: E402
from digest.store import migrations  # noqa: E402
from digest.store.engine import open_engine, transaction  # noqa: E402
from digest.store.papers import ingest_entries  # noqa: E402
from digest.store.schema import SubscriberRow  # noqa: E402

SOURCE_ENVELOPE = ("-f", "digest@bench.example", "-t", "reader@bench.example")
WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "via",
        "using",
        "towards",
        "into",
        "over",
        "under",
        "based",
        "our",
        "their",
    ]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def corpus_day() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    with (DATA / "corpus" / "arxiv-daily-cs" / "papers.jsonl").open() as lines:
        rows = [json.loads(line) for line in lines]
    return [r for r in rows if r["listing_date"] == DAY], rows


def topic_phrases(rows: list[dict[str, object]]) -> list[str]:
    phrases: Counter[str] = Counter()
    for row in rows:
        words = [w.lower() for w in WORD.findall(str(row["title"]))]
        for a, b in itertools.pairwise(words):
            if a not in STOP and b not in STOP:
                phrases[f"{a} {b}"] += 1
    return [p for p, n in phrases.most_common(3000) if n >= 3]


def load(engine_url: str, n: int, now: datetime) -> tuple[int, int]:
    day, everything = corpus_day()
    engine = open_engine(engine_url)
    migrations.upgrade(engine)
    entries = [
        FeedEntry(
            source="bench",
            key=str(r["id"]),
            title=str(r["title"]),
            abstract=str(r["abstract"]),
            authors=tuple(r.get("authors") or ()),  # type: ignore[arg-type]
            categories=tuple(r.get("categories") or ()),  # type: ignore[arg-type]
            arxiv_id=str(r["id"]),
            abs_url=f"https://arxiv.org/abs/{r['id']}",
            published=now - timedelta(hours=8),
        )
        for r in day
    ]
    with transaction(engine) as session:
        ingest_entries(session, entries, now=now - timedelta(hours=6))
    phrases = topic_phrases(everything)
    chance = random.Random(7)
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles"]
    rows = [
        {
            "email": f"reader{i}@bench.example",
            "status": "active",
            "topics": chance.sample(phrases, chance.randint(1, 3)),
            "categories": [],
            "authors": [],
            "exclude": [],
            "timezone": zones[i % len(zones)],
            "send_at": "00:00",
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
            "token_version": 0,
        }
        for i in range(n)
    ]
    with transaction(engine) as session:
        for start in range(0, n, 10_000):
            session.execute(insert(SubscriberRow), rows[start : start + 10_000])
    engine.dispose()
    return len(entries), n


def bench_settings(
    url: str, port: int, data_dir: Path, connections: int, processes: int
) -> Settings:
    return load_settings(
        service={"data_dir": str(data_dir)},
        database={"url": url},
        web={"secret_key": "bench", "base_url": "https://digest.bench.example"},
        mail={"from_address": "digest@bench.example"},
        smtp={
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "max_connections": connections,
            "timeout": 30,
        },
        digest={"render_processes": processes},
        sources=[],
    )


def stage_rates(settings: Settings, url: str, now: datetime, sample: int) -> tuple[float, float]:
    """Digests ranked per second and rendered per second, each measured alone."""
    engine = open_engine(url)
    composer = DigestComposer(settings, engine, now=now)
    composer.index  # noqa: B018 - built once per run, not per batch
    with transaction(engine) as session:
        subs = session.query(SubscriberRow).limit(sample).all()
        from digest.store.subscribers import to_record

        people = [(to_record(s), now.date()) for s in subs]
    start = time.perf_counter()
    digests = []
    for i in range(0, len(people), 250):
        digests += composer.digests(people[i : i + 250])
    rank_rate = len(people) / (time.perf_counter() - start)
    start = time.perf_counter()
    for digest in digests:
        composer.renderer.render_digest(digest, now=now)
    render_rate = len(digests) / (time.perf_counter() - start)
    engine.dispose()
    return rank_rate, render_rate


def cpu_snapshot(sink_pid: int) -> tuple[float, float, float, float]:
    """CPU seconds so far of this process, its reaped children (the render helpers), the
    sink and the PostgreSQL server."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime + own.ru_stime,
        children.ru_utime + children.ru_stime,
        cpu_seconds(sink_pid),
        server_cpu_seconds(b"postgres"),
    )


def run_sink(port: int) -> subprocess.Popen[bytes]:
    sink = postfix_tool("smtp-sink")
    command = [sink, f"127.0.0.1:{port}", "1000"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


def source_ceiling(port: int, messages: int, size: int, sessions: int) -> float:
    source = postfix_tool("smtp-source")
    envelope = (*SOURCE_ENVELOPE, f"127.0.0.1:{port}")
    start = time.perf_counter()
    subprocess.run(
        [source, "-l", str(size), "-m", str(messages), "-s", str(sessions), *envelope],
        check=True,
        capture_output=True,
    )
    return messages / (time.perf_counter() - start)


def end_to_end(settings: Settings, url: str, now: datetime) -> tuple[float, object]:
    engine = open_engine(url)

    async def run() -> object:
        transport = SmtpTransport(settings.smtp)
        try:
            return await deliver_due(settings, engine, transport, now=now, all_subscribers=True)
        finally:
            await transport.close()

    start = time.perf_counter()
    report = asyncio.run(run())
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, report


def bench_one(kind: str, n: int, connections: int, processes: int) -> None:
    now = datetime.combine(date.fromisoformat(DAY), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=20
    )
    with tempfile.TemporaryDirectory() as tmp_name, fresh_database(kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        port = free_port()
        sink = run_sink(port)
        try:
            papers, subscribers = load(url, n, now)
            settings = bench_settings(url, port, tmp / "data", connections, processes)
            rank_rate, render_rate = stage_rates(settings, url, now, min(n, 5000))
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            before = cpu_snapshot(sink.pid)
            with ChildPeaks(marker=b"spawn_main") as helpers:
                elapsed, report = end_to_end(settings, url, now)
            cpu = [b - a for a, b in zip(before, cpu_snapshot(sink.pid), strict=True)]
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            helper_rss = helpers.largest_mb
            ceiling = source_ceiling(port, min(n, 50_000), 20_000, connections)
        finally:
            sink.terminate()
            sink.wait()
    sent = report.sent  # type: ignore[attr-defined]
    print(
        f"\n== {kind}: {subscribers:,} subscribers, {papers} papers, {connections} SMTP "
        f"connections, {processes} render processes"
    )
    print(f"rank (alone):        {rank_rate:10,.0f} digests/s")
    print(f"render (alone):      {render_rate:10,.0f} digests/s")
    print(
        f"end to end:          {sent / elapsed:10,.0f} digests/s   "
        f"({sent:,} sent, {report.skipped_empty:,} empty, "  # type: ignore[attr-defined]
        f"{report.failed + report.retry + report.unknown} not sent, {elapsed:.1f} s)"  # type: ignore[attr-defined]
    )
    per = 1000 / max(sent, 1)
    print(
        f"CPU per digest:      {sum(cpu) * per:10.2f} ms  (delivering process {cpu[0] * per:.2f}, "
        f"helpers {cpu[1] * per:.2f}, smtp-sink {cpu[2] * per:.2f}, PostgreSQL {cpu[3] * per:.2f}; "
        f"{os.cpu_count()} cores)"
    )
    print(f"smtp-source ceiling: {ceiling:10,.0f} messages/s (20 kB, same sink, same sessions)")
    print(f"peak RSS:            {rss:10,.0f} MB (before the run: {rss_before:,.0f} MB)")
    print(f"peak RSS, helpers:   {helper_rss:10,.0f} MB (largest render process)")
    fits = max(rss, helper_rss) < 500
    verdict = "OK" if elapsed < 60 * n / 100_000 and fits else "MISSED"
    print(f"target (100k < 60 s, < 500 MB, scaled to n): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--subscribers", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--render-processes", type=int, default=2, help="digest.render_processes (0: none)"
    )
    args = parser.parse_args()
    for tool in ("smtp-sink", "smtp-source"):
        postfix_tool(tool)  # before any work: one line saying what to install
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    connections = ["--connections", str(args.connections)]
    connections += ["--render-processes", str(args.render_processes)]
    for kind in kinds:
        # Each database in its own process, so peak RSS is its own.
        if len(kinds) > 1:
            subprocess.run(
                [sys.executable, __file__, "-n", str(args.subscribers), "--db", kind, *connections],
                check=False,
            )
        else:
            bench_one(kind, args.subscribers, args.connections, args.render_processes)


if __name__ == "__main__":
    main()
