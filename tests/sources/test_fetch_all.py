"""`fetch_all` end to end: recorded responses served on 127.0.0.1 into a real store."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine

from digest.config import Settings, SourceSettings
from digest.pipeline.fetch import fetch_all
from digest.records import SourceReport
from digest.sources.fetch import Politeness
from digest.store.engine import transaction
from digest.store.papers import candidate_papers, get_source_state, paper_by_key
from tests.sources.conftest import FeedServer, Reply, fixture_bytes

NOW = datetime(2025, 8, 20, 6, 0, tzinfo=UTC)
ATOM = "raw/arxiv_rss_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
HF = "raw/hf_api_daily_papers_2026-06-12_sotawhat.json"
XML = {"Content-Type": "application/atom+xml; charset=utf-8"}


def run(
    settings: Settings,
    engine: Engine,
    sources: Sequence[SourceSettings],
    politeness: Politeness,
    *,
    now: datetime = NOW,
    only: Sequence[str] = (),
) -> dict[str, SourceReport]:
    configured = settings.model_copy(update={"sources": list(sources)})
    announced: list[SourceReport] = []

    async def go() -> list[SourceReport]:
        async with httpx.AsyncClient() as client:
            return await fetch_all(
                configured,
                engine,
                client,
                only=only,
                now=now,
                politeness=politeness,
                on_report=announced.append,
            )

    reports = asyncio.run(go())
    assert sorted(announced, key=reports.index) == reports  # each announced once, when done
    return {report.name: report for report in reports}


def source(name: str, kind: str, url: str) -> SourceSettings:
    return SourceSettings.model_validate({"name": name, "kind": kind, "url": url})


def test_listing_then_304_then_replacement(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    politeness: Politeness,
    shared_data: Path,
) -> None:
    url = feed_server.route(
        "/atom/cs.AI",
        Reply(200, (shared_data / ATOM).read_bytes(), {**XML, "ETag": '"day1"'}),
        Reply(304),
    )
    arxiv = [source("arxiv-ai", "arxiv-rss", url)]
    first = run(settings, engine, arxiv, politeness)["arxiv-ai"]
    assert (first.fetched, first.new, first.error) == (7, 7, None)

    second = run(settings, engine, arxiv, politeness, now=NOW + timedelta(hours=1))["arxiv-ai"]
    assert second.not_modified
    assert second.error is None
    assert second.new == 0
    assert feed_server.seen("/atom/cs.AI")[1].headers["If-None-Match"] == '"day1"'

    replaced = feed_server.route("/rss/cs.CL", Reply(200, fixture_bytes("arxiv_rss2_cs.CL.xml")))
    later = NOW + timedelta(days=1)
    third = run(
        settings, engine, [source("arxiv-cl", "arxiv-rss", replaced)], politeness, now=later
    )
    assert (third["arxiv-cl"].new, third["arxiv-cl"].updated) == (4, 1)
    with transaction(engine) as session:
        fresh = {p.id for p in candidate_papers(session, since=later)}
        assert fresh == {"2508.20001", "2508.20002", "2508.20003"}
        align = paper_by_key(session, "2508.13426")
        assert align is not None
        assert align.abstract.startswith("Revised version")
        assert get_source_state(session, "arxiv-ai").validators == {url: ('"day1"', None)}


def test_hugging_face_upvotes_land_on_the_arxiv_paper(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    politeness: Politeness,
    shared_data: Path,
) -> None:
    api = feed_server.route(
        "/api/query",
        Reply(
            200,
            (
                shared_data / "raw/arxiv_api_query_transformer_cs.LG_2026-06-14_sotawhat.xml"
            ).read_bytes(),
        ),
    )
    hf = feed_server.route("/api/daily_papers", Reply(200, (shared_data / HF).read_bytes()))
    sources = [
        source("arxiv-query", "arxiv-api", api + "?search_query=all:transformer&max_results=5"),
        source("hf-daily", "hf-daily", hf + "?date=2026-06-12"),
    ]
    reports = run(settings, engine, sources, politeness, only=["arxiv-query"])
    assert list(reports) == ["arxiv-query"]
    assert reports["arxiv-query"].new == 5
    assert feed_server.seen("/api/query")[0].query == (
        "search_query=all%3Atransformer&start=0&max_results=5"
    )
    reports = run(settings, engine, sources, politeness, only=["hf-daily"])
    assert reports["hf-daily"].fetched == 30
    assert reports["hf-daily"].error is None
    assert "date=2026-06-12" in feed_server.seen("/api/daily_papers")[0].query
    with transaction(engine) as session:
        msa = paper_by_key(session, "2606.13392")
        assert msa is not None
        assert (msa.upvotes, msa.stars) == (103, 251)
        assert msa.ai_summary is not None
        assert msa.ai_summary.startswith("MiniMax Sparse Attention enables")


def test_broken_sources_report_errors_and_never_stop_the_others(
    settings: Settings, engine: Engine, feed_server: FeedServer, politeness: Politeness
) -> None:
    good = fixture_bytes("arxiv_rss2_cs.CL.xml")
    cut = good[: good.index(b"oai:arXiv.org:2401.01234v3")]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}/feed"
    sources = [
        source("good", "arxiv-rss", feed_server.route("/good", Reply(200, good))),
        source("truncated", "arxiv-rss", feed_server.route("/cut", Reply(200, cut))),
        source(
            "html",
            "arxiv-rss",
            feed_server.route("/html", Reply(200, fixture_bytes("not_a_feed.html"))),
        ),
        source(
            "hf-error",
            "hf-daily",
            feed_server.route("/hf", Reply(400, fixture_bytes("hf_error.json"))),
        ),
        source("refused", "rss", refused),
        source("hung", "rss", feed_server.route("/hang", Reply(hang=True))),
        source("missing", "rss", feed_server.route("/gone", Reply(404, b"no"))),
    ]
    # The blog links one of the feed's papers: fetched alongside the feeds, it would store
    # that paper first when it happened to finish first, and the counts below would depend
    # on which source won. It runs once the feeds are stored.
    blog = source(
        "blog", "rss", feed_server.route("/blog", Reply(200, fixture_bytes("blog_atom_html.xml")))
    )
    reports = run(settings, engine, sources, replace(politeness, timeout=0.3))
    assert list(reports) == [s.name for s in sources]
    reports |= run(settings, engine, [blog], politeness)
    assert reports["good"].error is None
    assert reports["good"].fetched == 5
    # "good" and "truncated" list the same papers and run concurrently: each is stored once.
    assert reports["good"].new + reports["truncated"].new == 5
    assert reports["truncated"].fetched == 3
    assert "malformed XML" in str(reports["truncated"].error)
    assert "HTML page" in str(reports["html"].error)
    assert "must be a valid date" in str(reports["hf-error"].error)
    assert "cannot connect" in str(reports["refused"].error)
    assert "no answer" in str(reports["hung"].error)
    assert "HTTP 404" in str(reports["missing"].error)
    assert reports["blog"].new == 1
    assert "skipped 1 of 3 entries" in str(reports["blog"].error)
    with transaction(engine) as session:
        assert get_source_state(session, "refused").last_error is not None


def test_server_asking_for_a_long_wait_is_respected_next_time(
    settings: Settings, engine: Engine, feed_server: FeedServer, politeness: Politeness
) -> None:
    url = feed_server.route("/limited", Reply(429, b"", {"Retry-After": "3600"}))
    limited = [source("limited", "arxiv-rss", url)]
    assert "wait 3600 s" in str(run(settings, engine, limited, politeness)["limited"].error)
    again = run(settings, engine, limited, politeness, now=NOW + timedelta(minutes=10))
    assert "skipped until 2025-08-20 07:00 UTC" in str(again["limited"].error)
    assert len(feed_server.seen("/limited")) == 1
