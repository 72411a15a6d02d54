"""The daily delivery ranks with meaning, from the stored sentence vectors (the real model),
and picks exactly what `digest rank` picks from the same papers and topics.

The day is 83 real papers of 2026-06-02 (the development set feed-dev: for each of its six
profiles, eight papers graded relevant and four not, and twenty others); the subscribers are
those six profiles, one whose topic no paper puts in words, and votes on papers of another
day (two 👍 and a 👎: the learned model; one 👍: a liked paper).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from digest.config import Settings
from digest.pipeline.deliver import deliver_due
from digest.pipeline.embed import embed_missing
from digest.rank import build_index, rank_profiles
from digest.rank.embed import Embedder, SentenceModel
from digest.rank.text import Analyzer
from digest.records import FeedEntry, Paper, Profile
from digest.send.transport import SmtpTransport
from digest.store.deliveries import decode_items
from digest.store.engine import transaction
from digest.store.feedback import feedback_for, record_vote
from digest.store.papers import candidate_papers, ingest_entries, paper_by_key
from digest.store.schema import DeliveryRow, PaperRow, SubscriberRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.vectors import topic_vectors
from tests.conftest import SHARED, CliResult
from tests.send.scenario import smtp_settings
from tests.send.smtpd import FaultySmtpServer

NOW = datetime(2026, 6, 3, 6, 0, tzinfo=UTC)
DAY = "2026-06-02"
# No paper of the day has these words; the budget-feasible procurement auction below is
# about exactly this.
MEANING_ONLY = "purchasing work from freelancers within a fixed spend"
AUCTIONS = "2606.01142"  # "Repeated Descent: … Online Budget-Feasible Auctions"
VOTES = {  # subscriber → (paper of 2026-05-12, vote), oldest first
    "agents-tools": [("2605.08271", 1), ("2605.08924", -1), ("2605.08468", 1)],
    "game-theory": [("2605.09332", 1)],
}


@cache
def corpus() -> dict[str, dict[str, Any]]:
    lines = (SHARED / "corpus" / "arxiv-daily-cs" / "papers.jsonl").read_text("utf-8")
    return {row["id"]: row for row in map(json.loads, lines.splitlines())}


def profiles() -> list[dict[str, Any]]:
    path = SHARED / "ranking" / "feed-dev" / "profiles.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def day_ids() -> list[str]:
    day = {k for k, row in corpus().items() if row["listing_date"] == DAY}
    chosen: list[str] = []
    for profile in profiles():
        graded = profile["qrels"]
        chosen += sorted(k for k, g in graded.items() if g >= 2 and k in day)[:8]
        chosen += sorted(k for k, g in graded.items() if g < 2 and k in day)[:4]
    rest = sorted(day - set(chosen))
    random.Random(1).shuffle(rest)
    return list(dict.fromkeys(chosen + rest[:20]))


def entry(key: str) -> FeedEntry:
    row = corpus()[key]
    return FeedEntry(
        source="arxiv-ai",
        key=key,
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(row.get("authors") or ()),
        categories=tuple(row.get("categories") or ()),
        arxiv_id=key,
        announce_type="new",
    )


def subscribe(engine: Engine, name: str, topics: tuple[str, ...]) -> int:
    with transaction(engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(f"{name}@example.org", topics=topics, status="active"),
            default_timezone="UTC",
            default_send_at="05:00",
        )
    return sub.id


def deliver(settings: Settings, engine: Engine, model: SentenceModel) -> None:
    async def run() -> None:
        transport = SmtpTransport(settings.smtp)
        try:
            await deliver_due(settings, engine, transport, now=NOW, model=model)
        finally:
            await transport.close()

    asyncio.run(run())


def delivered(engine: Engine) -> dict[str, list[tuple[str, float, str]]]:
    """Per subscriber (the name before the @): the papers delivered, with their scores and
    reasons, as the ledger recorded them."""
    with transaction(engine) as session:
        keys = dict(session.execute(select(PaperRow.id, PaperRow.key)).all())
        emails = dict(session.execute(select(SubscriberRow.id, SubscriberRow.email)).all())
        rows = session.execute(select(DeliveryRow.subscriber_id, DeliveryRow.items)).all()
    return {
        emails[sub_id].split("@")[0]: [
            (keys[i.paper_id], i.score, i.reason) for i in decode_items(items)
        ]
        for sub_id, items in rows
    }


def paper_line(paper: Paper) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "authors": list(paper.authors),
    }


def rank_command(
    engine: Engine, ids: dict[str, int], tmp_path: Path, run_cli: Callable[..., CliResult]
) -> dict[str, list[tuple[str, float, str]]]:
    """`digest rank` on the delivery's candidates (in the order the delivery reads them) and
    the subscribers' topics and votes (newest first, as the delivery reads them)."""
    with transaction(engine) as session:
        papers = candidate_papers(session, since=NOW - timedelta(days=3))
        votes = feedback_for(session, list(ids.values()))
        topics = {
            name: session.get_one(SubscriberRow, sub_id).topics for name, sub_id in ids.items()
        }
    paper_file = tmp_path / "day.jsonl"
    paper_file.write_text("".join(json.dumps(paper_line(p)) + "\n" for p in papers))
    lines = [
        {
            "id": name,
            "topics": list(topics[name]),
            "liked": [paper_line(p) for p in votes[sub_id].liked],
            "disliked": [paper_line(p) for p in votes[sub_id].disliked],
        }
        for name, sub_id in ids.items()
    ]
    profile_file = tmp_path / "profiles.jsonl"
    profile_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_cli("rank", "--papers", str(paper_file), "--profiles", str(profile_file))
    assert result.code == 0, result
    out = {}
    for line in map(json.loads, result.out.splitlines()):
        out[line["profile"]] = list(
            zip(line["ranked"], line["scores"], line["reasons"], strict=True)
        )
    return out


@pytest.mark.slow
def test_the_delivery_picks_what_digest_rank_picks_by_meaning(
    engine: Engine,
    settings: Settings,
    smtp_server: FaultySmtpServer,
    embedder: Embedder,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
) -> None:
    settings = smtp_settings(settings, smtp_server.host, smtp_server.port)
    model = SentenceModel()
    with transaction(engine) as session:
        ingest_entries(session, [entry(k) for k in day_ids()], now=NOW - timedelta(hours=10))
        voted = [entry(k) for k, _ in VOTES["agents-tools"] + VOTES["game-theory"]]
        ingest_entries(session, voted, now=NOW - timedelta(days=21))
    ids = {p["id"]: subscribe(engine, p["id"], tuple(p["topics"])) for p in profiles()}
    for name, votes in VOTES.items():
        for minutes, (key, vote) in enumerate(votes):
            with transaction(engine) as session:
                paper = paper_by_key(session, key)
                assert paper is not None
                assert paper.db_id is not None
                when = NOW - timedelta(days=2, minutes=-minutes)
                record_vote(session, ids[name], paper.db_id, vote, now=when)
    # What a fetch and the saved topics left: every paper and topic embedded…
    report = embed_missing(engine, model, now=NOW)
    assert (report.papers, report.topics) == (83 + 4, 12)
    # …but for one subscriber stored by a version that kept no vectors: the delivery
    # embeds that topic when it needs it, and keeps it.
    ids["meaning"] = subscribe(engine, "meaning", (MEANING_ONLY,))
    with transaction(engine) as session:
        assert topic_vectors(session, [MEANING_ONLY], embedder.model_id) == {}

    deliver(settings, engine, model)

    sent = delivered(engine)
    expected = rank_command(engine, ids, tmp_path, run_cli)
    assert set(expected) == set(ids)
    for name in ids:
        assert sent.get(name, []) == expected[name], name
    [(picked, _, reason)] = sent["meaning"]
    assert (picked, reason) == (AUCTIONS, f"close in meaning to '{MEANING_ONLY}'")
    title = corpus()[AUCTIONS]["title"] + " " + corpus()[AUCTIONS]["abstract"]
    analyzer = Analyzer()  # the ranking's own content stems: no word of it, in any form
    assert not set(analyzer.stems(MEANING_ONLY)) & set(analyzer.stems(title))
    with transaction(engine) as session:
        [stored] = topic_vectors(session, [MEANING_ONLY], embedder.model_id).values()
    assert np.array_equal(stored, embedder.embed([MEANING_ONLY])[0])
    reasons = [reason for picks in sent.values() for _, _, reason in picks]
    assert any("a paper you liked" in reason for reason in reasons)


def test_a_paper_without_a_vector_is_still_picked_by_its_words(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    """A paper stored after the embedding ran (or while the model could not load) ranks by
    its words alone; the day's other papers still rank by meaning."""
    settings = smtp_settings(settings, smtp_server.host, smtp_server.port)
    model = SentenceModel()
    with transaction(engine) as session:
        ingest_entries(session, [entry(k) for k in day_ids()[48:72]], now=NOW - timedelta(hours=10))
    embed_missing(engine, model, now=NOW)
    late = FeedEntry(
        "arxiv-ai",
        "2606.99999",
        "Mechanism Design for Selling Cloud Capacity",
        "We design truthful mechanisms that sell spare capacity.",
        announce_type="new",
    )
    with transaction(engine) as session:
        ingest_entries(session, [late], now=NOW - timedelta(hours=9))
    topics = ("mechanism design", "game theory")
    subscribe(engine, "ada", topics)
    deliver(settings, engine, model)
    picks = delivered(engine)["ada"]
    assert (late.key, "matches 'mechanism design' in the title") in [(k, r) for k, _, r in picks]
    # The others by meaning: not the scores their words alone would give them.
    with transaction(engine) as session:
        day = candidate_papers(session, since=NOW - timedelta(days=3))
    [by_words] = rank_profiles(build_index(day), [Profile("ada", topics)])
    words = {p.paper.id: p.score for p in by_words}
    others = [(key, score) for key, score, _ in picks if key != late.key]
    assert others
    assert all(words.get(key) != score for key, score in others)
