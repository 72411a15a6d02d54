"""The whole day at scale: N subscribers, one day's papers, delivered by 1, 2 and 4 workers.

    uv run python bench/daily_run.py                  # 100,000 subscribers, PostgreSQL 1/2/4
                                                      # workers and SQLite (one process)
    uv run python bench/daily_run.py --quick          # 5,000 subscribers, a fast check
    uv run python bench/daily_run.py -n 20000 --workers 2,4 --db postgresql

For each configuration, on a fresh database (PostgreSQL: its own database at 127.0.0.1:5432,
created and dropped here; DIGEST_TEST_PG_URL overrides the server):

1. seed     N subscribers through the CSV import path, 1-3 topics each drawn (weighted by how
            often they occur) from title phrases of ../shared/data/corpus, some with a
            category filter or an excluded word, spread over eight time zones;
2. ingest   one listing day of that corpus (2026-06-02: 713 papers);
   vectors  the papers' and the topics' sentence vectors stored, as a fetch and the saves
            leave them (computed once per model and kept in bench/.cache, so this step is
            a copy; `bench/embed.py` measures what embedding costs), so the workers rank
            with meaning, as `digest worker` does;
3. queue    one ledger row per subscriber for their local date (as every worker tick does);
4. deliver  W worker processes claim, rank, render, send into Postfix's `smtp-sink` and
            record, exactly as `digest worker` does (same loop, composer, SMTP pool and
            `--render-processes` helper processes per worker that rank and render; by
            default, with fewer workers than CPU cores, as many helpers in all as there
            are cores, and none when every core has a worker: each worker then ranks and
            renders in its own thread, as helpers would only add processes to switch).

Prints per-stage times (prepare, the wall time batches spent ranked and rendered by the
helpers, and ledger SQL are summed over the workers; SMTP is the time a worker had a message
in flight), end-to-end digests/s (queue → last row recorded, worker and helper start-up
included), peak RSS of every process (helpers included), and duplicates and misses
checked twice: at the sink (every RCPT it logged, per address) and in the ledger. In the same
run, Postfix's `smtp-source` against the same sink, with the same message size and as many
sessions, gives the ceiling. Targets: 100,000 digests (SQLite) in under 90 s, under 500 MB
per process, 0 duplicates, 0 misses. Needs Postfix's smtp-sink and smtp-source (Debian:
`postfix`); without them it says so in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "data" / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
sys.path.insert(0, str(ROOT))

from _databases import fresh_database  # noqa: E402
from _postfix import postfix_tool  # noqa: E402
from _processes import ChildPeaks, peak_rss_mb  # noqa: E402
from _vectors import cached_vectors  # noqa: E402
from sqlalchemy import Engine, event, select  # noqa: E402

from digest.config import Settings, load_settings  # noqa: E402
from digest.rank.embed import SentenceModel, paper_text  # noqa: E402
from digest.records import FeedEntry, OutgoingEmail  # noqa: E402
from digest.send.due import due_groups  # noqa: E402
from digest.store import migrations, queueing  # noqa: E402
from digest.store.engine import open_engine, transaction  # noqa: E402
from digest.store.imports import apply_import, plan_import  # noqa: E402
from digest.store.papers import ingest_entries  # noqa: E402
from digest.store.schema import DeliveryRow, PaperRow, SubscriberRow  # noqa: E402
from digest.store.subscribers import SubscriberInput  # noqa: E402
from digest.store.vectors import store_paper_vectors, store_topic_vectors  # noqa: E402

DAY = "2026-06-02"
NOW = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,}")
STOP_WORDS = (
    "the and for with from via using towards toward into over under based our their its "
    "are can not more less than between through without within new large study approach "
    "method methods model models learning data analysis framework efficient"
)
STOP = frozenset(STOP_WORDS.split(" "))


# --- the day's data ----------------------------------------------------------------------


def load_corpus(day: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the papers listed on `day`, all the other papers)."""
    with CORPUS.open() as lines:
        rows = [json.loads(line) for line in lines]
    return [r for r in rows if r["listing_date"] == day], [
        r for r in rows if r["listing_date"] != day
    ]


def topic_pool(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[int]]:
    """Phrases readers would type (title bigrams and content words), with how often they occur."""
    counts: Counter[str] = Counter()
    for row in rows:
        words = [w.lower() for w in WORD.findall(str(row["title"]))]
        content = [w for w in words if w not in STOP]
        counts.update(w for w in content if len(w) > 4)
        counts.update(
            f"{a} {b}" for a, b in itertools.pairwise(words) if a not in STOP and b not in STOP
        )
    common = [(phrase, n) for phrase, n in counts.most_common(4000) if n >= 3]
    return [p for p, _ in common], [n for _, n in common]


def subscriber_inputs(n: int, others: Sequence[dict[str, Any]]) -> list[SubscriberInput]:
    """N readers: 1-3 weighted topics; 15% filter on a category, 5% exclude a word."""
    phrases, weights = topic_pool(others)
    categories = [c for c, _ in Counter(c for r in others for c in r["categories"]).most_common(12)]
    chance = random.Random(20260602)
    people = []
    for i in range(n):
        topics = tuple(dict.fromkeys(chance.choices(phrases, weights, k=chance.randint(1, 3))))
        people.append(
            SubscriberInput(
                email=f"reader{i}@bench.example",
                topics=topics,
                categories=(chance.choice(categories),) if chance.random() < 0.15 else (),
                exclude=(chance.choice(phrases).split()[0],) if chance.random() < 0.05 else (),
                timezone=ZONES[i % len(ZONES)],
                send_at=f"{chance.randint(5, 9):02d}:{chance.choice(('00', '30')):s}",
                status="active",
            )
        )
    return people


def feed_entries(day_rows: Sequence[dict[str, Any]]) -> list[FeedEntry]:
    return [
        FeedEntry(
            source="arxiv-rss",
            key=str(r["id"]),
            title=str(r["title"]),
            abstract=str(r["abstract"]),
            authors=tuple(r.get("authors") or ()),
            categories=tuple(r.get("categories") or ()),
            arxiv_id=str(r["id"]),
            abs_url=f"https://arxiv.org/abs/{r['id']}",
            published=NOW - timedelta(hours=16),
        )
        for r in day_rows
    ]


# --- the stages the parent runs ----------------------------------------------------------


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def seed(engine: Engine, people: Sequence[SubscriberInput]) -> int:
    rows = [p.validate() for p in people]
    with transaction(engine) as session:
        plan = plan_import(session, rows)
        apply_import(session, plan, default_timezone="UTC", default_send_at="07:00", now=NOW)
    return len(plan.new)


def ingest(engine: Engine, entries: Sequence[FeedEntry]) -> int:
    with transaction(engine) as session:
        return ingest_entries(session, entries, now=NOW - timedelta(hours=14)).new


def store_vectors(
    engine: Engine, entries: Sequence[FeedEntry], people: Sequence[SubscriberInput]
) -> tuple[int, int]:
    """Every paper's and every distinct topic's vector, as fetching and saving store them."""
    model_id = SentenceModel().model_id
    papers = cached_vectors("papers", {e.key: paper_text(e.title, e.abstract) for e in entries})
    topics = sorted({t for person in people for t in person.topics})
    by_topic = cached_vectors("topics", {t: t for t in topics})
    with transaction(engine) as session:
        ids = dict(session.execute(select(PaperRow.key, PaperRow.id)).all())
        store_paper_vectors(session, model_id, {ids[key]: v for key, v in papers.items()})
        store_topic_vectors(session, model_id, by_topic, now=NOW)
    return len(papers), len(by_topic)


def queue(engine: Engine) -> int:
    """Every active subscriber's row for their local date (a tick after all send times)."""
    with transaction(engine) as session:
        groups = queueing.send_groups(session)
    due = due_groups(groups, NOW, ignore_send_time=True)
    with transaction(engine) as session:
        return queueing.queue_due(session, due, now=NOW)


# --- the sink and the ceiling --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """Postfix's smtp-sink on 127.0.0.1, logging every command (-v) to a file."""

    RCPT = re.compile(rb"RCPT TO:<([^>]*)>")

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.log = tmp / f"sink-{self.port}.log"
        command = [postfix_tool("smtp-sink"), "-v"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, f"127.0.0.1:{self.port}", "1000"], stdout=out, stderr=out
            )
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit("smtp-sink did not start")

    def counts(self) -> tuple[Counter[str], int]:
        """Messages per recipient (RCPT commands), and messages completed (".")."""
        data = self.log.read_bytes()
        per_address = Counter(m.decode() for m in self.RCPT.findall(data))
        return per_address, data.count(b"smtp-sink: .\n")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        self.log.unlink(missing_ok=True)


def source_ceiling(port: int, messages: int, size: int, sessions: int) -> float:
    """smtp-source's raw messages/s against the same sink: the most any client could do."""
    source = postfix_tool("smtp-source")
    command = [source, "-l", str(size), "-m", str(messages), "-s", str(sessions)]
    command += ["-f", "digest@bench.example", "-t", "ceiling@bench.example", f"127.0.0.1:{port}"]
    elapsed, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    return messages / elapsed


# --- one delivery worker (a child process) -------------------------------------------------


@dataclass
class WorkerFigures:
    sent: int = 0
    skipped: int = 0
    not_sent: int = 0
    prepare: float = 0.0
    ledger_sql: float = 0.0
    smtp: float = 0.0
    bytes: int = 0
    peak_rss_mb: float = 0.0


class TimedTransport:
    """The real SMTP transport, counting the time any message of this worker is in flight."""

    def __init__(self, inner: Any, figures: WorkerFigures) -> None:
        self.inner, self.figures = inner, figures
        self._in_flight, self._since = 0, 0.0

    async def send(self, email: OutgoingEmail) -> None:
        if not self._in_flight:
            self._since = time.perf_counter()
        self._in_flight += 1
        try:
            await self.inner.send(email)
            self.figures.bytes += len(email.data)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self.figures.smtp += time.perf_counter() - self._since

    async def close(self) -> None:
        await self.inner.close()


def watch_ledger_sql(engine: Engine, figures: WorkerFigures) -> None:
    """Add up the time of statements run by the delivery loop's ledger thread."""
    started = threading.local()

    def before(*_args: Any) -> None:
        started.at = time.perf_counter()

    def after(*_args: Any) -> None:
        if threading.current_thread().name.startswith("digest-ledger"):
            figures.ledger_sql += time.perf_counter() - started.at

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)


def bench_settings(url: str, port: int, connections: int, data_dir: Path) -> Settings:
    return load_settings(
        service={"data_dir": str(data_dir)},
        database={"url": url},
        web={"secret_key": "bench", "base_url": "https://digest.bench.example"},
        mail={"from_address": "digest@bench.example"},
        smtp={"host": "127.0.0.1", "port": port, "security": "none", "timeout": 60}
        | {"max_connections": connections},
        sources=[],
    )


def run_worker(spec: dict[str, Any]) -> WorkerFigures:
    """What `digest worker`'s delivery tick does (helper processes rank and render), with
    the stages timed: `prepare` is the wall time a batch spent with the helpers."""
    from digest.pipeline.preparers import ProcessPreparer, ThreadPreparer
    from digest.send.loop import LoopOptions, new_worker_id, run_deliveries
    from digest.send.transport import SmtpTransport

    settings = bench_settings(spec["url"], spec["port"], spec["connections"], Path(spec["data"]))
    engine = open_engine(spec["url"])
    figures = WorkerFigures()
    watch_ledger_sql(engine, figures)
    processes = int(spec["render_processes"])
    preparer = (
        ProcessPreparer(settings, now=NOW, processes=processes)
        if processes
        else ThreadPreparer(settings, engine, now=NOW)
    )

    def prepare(claims: Any) -> Any:
        seconds, prepared = timed(lambda: preparer.prepare(claims))
        figures.prepare += seconds
        return prepared

    options = LoopOptions(
        worker_id=new_worker_id(),
        concurrency=settings.smtp.max_connections,
        clock=lambda: NOW,
        prepare_parallel=preparer.parallel,
    )

    async def deliver() -> Any:
        transport = TimedTransport(SmtpTransport(settings.smtp), figures)
        try:
            return await run_deliveries(engine, transport, prepare, options)
        finally:
            await transport.close()

    with ChildPeaks(marker=b"spawn_main") as helpers:
        try:
            report = asyncio.run(deliver())
        finally:
            preparer.close()
    engine.dispose()
    figures.sent, figures.skipped = report.sent, report.skipped_empty
    figures.not_sent = report.failed + report.retry + report.unknown
    figures.peak_rss_mb = max(peak_rss_mb(), helpers.largest_mb)
    return figures


# --- one configuration: a fresh database, the whole day, the checks -----------------------


@dataclass
class DayFigures:
    db: str
    workers: int
    subscribers: int
    helpers: int = 1  # helper processes per worker
    papers: int = 0
    seed: float = 0.0
    ingest: float = 0.0
    vectors: float = 0.0
    vector_counts: tuple[int, int] = (0, 0)
    queue: float = 0.0
    deliver_wall: float = 0.0
    sent: int = 0
    empty: int = 0
    not_sent: int = 0
    duplicates: int = 0
    misses: int = 0
    sink_messages: int = 0
    ceiling: float = 0.0
    message_kb: float = 0.0
    parent_rss_mb: float = 0.0
    per_worker: list[dict[str, Any]] = field(default_factory=list)

    def total(self, name: str) -> float:
        return sum(float(w[name]) for w in self.per_worker)

    @property
    def end_to_end(self) -> float:
        return self.queue + self.deliver_wall

    @property
    def rate(self) -> float:
        return (self.sent + self.empty) / self.end_to_end if self.end_to_end else 0.0


def start_workers(
    url: str, port: int, count: int, connections: int, processes: int, tmp: Path
) -> list[Any]:
    spec = {"url": url, "port": port, "connections": connections, "data": str(tmp / "data")}
    spec["render_processes"] = processes
    return [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps(spec)], stdout=subprocess.PIPE
        )
        for _ in range(count)
    ]


def collect(workers: Sequence[Any]) -> list[dict[str, Any]]:
    results = []
    for process in workers:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a worker failed with exit code {process.returncode}")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def check(engine: Engine, sink: Sink, figures: DayFigures) -> None:
    """Duplicates and misses, at the sink and in the ledger."""
    per_address, figures.sink_messages = sink.counts()
    with transaction(engine) as session:
        status = dict(
            session.execute(
                select(SubscriberRow.email, DeliveryRow.status).join(
                    DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id, isouter=True
                )
            ).all()
        )
    sent = {address for address, state in status.items() if state == "sent"}
    figures.empty = sum(1 for state in status.values() if state == "skipped")
    figures.sent = len(sent)
    figures.not_sent = len(status) - figures.sent - figures.empty
    figures.duplicates = sum(n - 1 for n in per_address.values() if n > 1)
    figures.duplicates += len(set(per_address) - sent)  # mail the ledger does not know of
    figures.misses = figures.not_sent + sum(1 for address in sent if not per_address[address])
    figures.misses += max(0, figures.sent - figures.sink_messages)


def run_day(
    kind: str, workers: int, n: int, connections: int, processes: int, *, words_only: bool = False
) -> DayFigures:
    figures = DayFigures(kind, workers, n, helpers=processes)
    day_rows, others = load_corpus(DAY)
    people = subscriber_inputs(n, others)
    with tempfile.TemporaryDirectory() as tmp_name, fresh_database(kind, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        engine = open_engine(url)
        migrations.upgrade(engine)
        figures.seed, _ = timed(lambda: seed(engine, people))
        entries = feed_entries(day_rows)
        figures.ingest, figures.papers = timed(lambda: ingest(engine, entries))
        if not words_only:
            figures.vectors, figures.vector_counts = timed(
                lambda: store_vectors(engine, entries, people)
            )
        sink = Sink(tmp)
        try:
            figures.queue, _ = timed(lambda: queue(engine))
            started = time.perf_counter()
            started_workers = start_workers(url, sink.port, workers, connections, processes, tmp)
            figures.per_worker = collect(started_workers)
            figures.deliver_wall = time.perf_counter() - started
            check(engine, sink, figures)
            size = int(figures.total("bytes") / max(1, figures.sent))
            figures.message_kb = size / 1024
            figures.ceiling = source_ceiling(
                sink.port, min(n, 20_000), size or 20_000, workers * connections
            )
        finally:
            sink.stop()
            engine.dispose()
    figures.parent_rss_mb = peak_rss_mb()
    return figures


# --- reporting ----------------------------------------------------------------------------


def print_day(f: DayFigures) -> None:
    rss = ", ".join(f"{w['peak_rss_mb']:.0f}" for w in f.per_worker)
    print(
        f"\n== {f.db}, {f.workers} worker(s) with {f.helpers} helper(s) each: "
        f"{f.subscribers:,} subscribers, {f.papers} papers"
    )
    print(f"seed (CSV import path)   {f.seed:8.1f} s")
    print(f"ingest                   {f.ingest:8.1f} s")
    papers, topics = f.vector_counts
    how = "the workers rank with meaning" if papers else "none: the workers rank by words"
    print(
        f"vectors (from the cache) {f.vectors:8.1f} s  ({papers} papers, {topics:,} topics; {how})"
    )
    print(f"queue                    {f.queue:8.1f} s")
    print(f"prepare   (all workers)  {f.total('prepare'):8.1f} s  (rank + render)")
    print(f"ledger SQL (all workers) {f.total('ledger_sql'):8.1f} s")
    print(f"SMTP in flight (per w.)  {f.total('smtp') / max(1, f.workers):8.1f} s")
    print(f"deliver (start → exit)   {f.deliver_wall:8.1f} s")
    print(
        f"end to end               {f.end_to_end:8.1f} s  {f.rate:8,.0f} digests/s  "
        f"({f.sent:,} sent, {f.empty:,} empty, {f.not_sent} not sent)"
    )
    print(f"smtp-source ceiling      {f.ceiling:8,.0f} messages/s ({f.message_kb:.0f} kB each)")
    print(f"peak RSS (MB)            workers: {rss}; seeding parent: {f.parent_rss_mb:.0f}")
    print(
        f"duplicates / misses      {f.duplicates} / {f.misses}"
        f"  (sink: {f.sink_messages:,} messages)"
    )


def verdict(f: DayFigures) -> str:
    budget = 90 * f.subscribers / 100_000
    rss = max([w["peak_rss_mb"] for w in f.per_worker] + [0])
    ok = f.end_to_end < budget and rss < 500 and not f.duplicates and not f.misses
    return "met" if ok else "MISSED"


def print_table(days: Sequence[DayFigures]) -> None:
    print(
        "\n| database | workers | helpers / worker | subscribers | queue | rank + render "
        "| ledger SQL | end to end | digests/s | smtp-source msg/s | peak RSS / process | dup "
        "| miss | targets |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for f in days:
        rss = max(w["peak_rss_mb"] for w in f.per_worker)
        print(
            f"| {f.db} | {f.workers} | {f.helpers} | {f.subscribers:,} | {f.queue:.1f} s "
            f"| {f.total('prepare'):.1f} s "
            f"| {f.total('ledger_sql'):.1f} s "
            f"| {f.end_to_end:.1f} s | {f.rate:,.0f} | {f.ceiling:,.0f} | {rss:.0f} MB "
            f"| {f.duplicates} | {f.misses} | {verdict(f)} |"
        )


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GB RAM, Python {sys.version.split()[0]}, "
        f"load average {load:.1f} at the start"
    )


def default_helpers(workers: int) -> int:
    """Helpers per worker: the cores shared out while there are fewer workers than cores,
    else none (measured here: 4 workers on 2 cores took 66 s with a helper each, 59 s
    without)."""
    cores = os.cpu_count() or 1
    return cores // workers if workers < cores else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts, e.g. 1,2,4")
    parser.add_argument("--db", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections per worker")
    parser.add_argument("--quick", action="store_true", help="5,000 subscribers")
    parser.add_argument(
        "--render-processes",
        type=int,
        help="helpers per worker (digest.render_processes); default: cores / workers while "
        "there are fewer workers than cores, else 0",
    )
    parser.add_argument(
        "--words-only",
        action="store_true",
        help="store no sentence vectors: the workers rank by words alone (the earlier figures)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asdict(run_worker(json.loads(args.worker)))))
        return
    if args.day:
        kind, workers, n = args.day.split(":")
        helpers = args.render_processes
        if helpers is None:
            helpers = default_helpers(int(workers))
        figures = run_day(
            kind, int(workers), int(n), args.connections, helpers, words_only=args.words_only
        )
        print(json.dumps(asdict(figures)))
        return
    for tool in ("smtp-sink", "smtp-source"):
        postfix_tool(tool)  # before any work: one line saying what to install
    n = 5_000 if args.quick else args.subscribers
    plan = [
        (kind, count)
        for kind in args.db.split(",")
        for count in ([1] if kind == "sqlite" else [int(w) for w in args.workers.split(",")])
    ]
    print(f"Machine: {machine()}")
    # Embedded once here (if the cache lacks them), so no configuration's figures carry it.
    day_rows, others = load_corpus(DAY)
    seconds, _ = timed(
        lambda: (
            cached_vectors(
                "papers",
                {e.key: paper_text(e.title, e.abstract) for e in feed_entries(day_rows)},
            ),
            cached_vectors(
                "topics",
                {t: t for person in subscriber_inputs(n, others) for t in person.topics},
            ),
        )
    )
    print(f"sentence vectors of the day and the topics ready in {seconds:.1f} s")
    days = []
    for kind, count in plan:
        # Each configuration in its own process: its seeding parent's peak RSS is its own.
        command = [sys.executable, __file__, "--day", f"{kind}:{count}:{n}"]
        command += ["--connections", str(args.connections)]
        if args.render_processes is not None:
            command += ["--render-processes", str(args.render_processes)]
        if args.words_only:
            command.append("--words-only")
        out = subprocess.run(
            command,
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
        day = DayFigures(**json.loads(out.decode().strip().splitlines()[-1]))
        print_day(day)
        days.append(day)
    print_table(days)


if __name__ == "__main__":
    main()
