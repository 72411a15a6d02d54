"""Adding a library end to end: read a file, fetch what is missing from the arXiv API (a real
server on 127.0.0.1 answering from recorded responses), store, like, and rank by it.

Runs on SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from digest.config import Settings
from digest.pacing import Pacer
from digest.pipeline.compose import compose_digest
from digest.pipeline.library import LibraryReport, add_library
from digest.sources.fetch import Politeness
from digest.sources.http import RetryPolicy
from digest.sources.library import LibraryError
from digest.store.engine import transaction
from digest.store.feedback import feedback_for
from digest.store.library import library_of
from digest.store.papers import candidate_papers, ingest_entries
from digest.store.schema import FeedbackRow, PaperRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from tests.arxiv_api import ArxivApi
from tests.corpus import listing_day

DAY = date(2026, 6, 12)
NOW = datetime(2026, 6, 12, 22, tzinfo=UTC)
BIBTEX = """% exported by a reference manager
@article{maskwam,
  title   = {MaskWAM: Unifying Mask Prompting and Prediction for World-Action Models},
  journal = {arXiv preprint arXiv:2606.13515},
  year    = {2026}
}

@misc{mana2026,
  title         = {Mana: Dexterous Manipulation of Articulated Tools},
  eprint        = {2606.13677v1},
  archivePrefix = {arXiv},
  primaryClass  = {cs.RO}
}

@article{cup,
  title = {Adjusted Cup-Product Neural Layer},
  doi   = {10.48550/arXiv.2606.13568}
}

@article{legacy,
  title = {An old-style identifier},
  url   = {https://arxiv.org/abs/hep-th/9901001v2}
}

@article{alexnet,
  title = {ImageNet classification with deep convolutional neural networks},
  doi   = {10.1145/3065386}
}

@book{nothing,
  title = {A book with no identifier}
}
"""


def settings_for(settings: Settings, api: ArxivApi) -> Settings:
    library = settings.library.model_copy(update={"arxiv_api_url": api.url})
    return settings.model_copy(update={"library": library})


def quick(sleeps: list[float] | None = None) -> Politeness:
    """The 3 s rule kept, with the waits recorded instead of slept."""

    async def record(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    clock = iter(range(1_000_000))
    throttle = Pacer(3.0, clock=lambda: float(next(clock)) * 0.001, sleep=record)
    return Politeness(throttle=throttle, policy=RetryPolicy(attempts=1), timeout=5.0)


def new_subscriber(engine: Engine, email: str = "ada@example.org", **fields: object) -> int:
    with transaction(engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(email=email, status="active", **fields).validate(),  # type: ignore[arg-type]
            default_timezone="UTC",
            default_send_at="07:00",
            now=NOW,
        )
    return sub.id


def add(
    settings: Settings, engine: Engine, sid: int, data: bytes | str, politeness: Politeness
) -> LibraryReport:
    async def run() -> LibraryReport:
        async with httpx.AsyncClient() as client:
            return await add_library(
                settings, engine, client, sid, data, now=NOW, politeness=politeness
            )

    return asyncio.run(run())


@pytest.fixture
def day_listed(engine: Engine, shared_data: Path) -> None:
    """The arXiv listing of 2026-06-12 (250 real papers) is in the store."""
    with transaction(engine) as session:
        ingest_entries(session, listing_day(shared_data, DAY), now=NOW)


def test_a_bibtex_library_is_fetched_stored_and_liked(
    settings: Settings, engine: Engine, arxiv_api: ArxivApi, day_listed: None
) -> None:
    sid = new_subscriber(engine)
    report = add(settings_for(settings, arxiv_api), engine, sid, BIBTEX, quick())

    # one request for the three arXiv ids not stored yet (2606.13515 is in the listing)
    assert arxiv_api.asked == [["2606.13677", "2606.13568", "hep-th/9901001"]]
    assert (report.kind, report.added, report.fetched) == ("BibTeX file", 3, 2)
    assert report.not_found == [
        "line 20: arXiv has no paper hep-th/9901001",
        "line 25: DOI 10.1145/3065386 is not a paper this digest knows (only arXiv papers "
        "can be fetched; give its arXiv id if it has one)",
    ]
    assert report.problems == ["line 30: entry 'nothing' has no arXiv id, DOI or arXiv link"]
    assert not report.complete
    with transaction(engine) as session:
        count, papers = library_of(session, sid)
        votes = feedback_for(session, [sid])[sid]
        fetched = session.scalar(select(PaperRow).where(PaperRow.key == "2606.13677"))
        candidates = {p.id for p in candidate_papers(session, since=NOW.replace(hour=0))}
        sources = set(session.scalars(select(FeedbackRow.source)))
    assert count == 3
    assert {p.title for p in papers} == {
        "MaskWAM: Unifying Mask Prompting and Prediction for World-Action Models",
        "Mana: Dexterous Manipulation of Articulated Tools",
        "Adjusted Cup-Product Neural Layer",
    }
    assert votes.library == {"2606.13515", "2606.13677", "2606.13568"}
    assert {p.id for p in votes.liked} == votes.library
    assert sources == {"library"}
    # the fetched paper is stored with its recorded text and version, but it is not news
    assert fetched is not None
    assert fetched.version == 1
    assert fetched.primary_category == "cs.RO"
    assert "2606.13677" not in candidates
    assert "2606.13515" in candidates

    again = add(settings_for(settings, arxiv_api), engine, sid, "2606.13677\n", quick())
    assert (again.added, again.already, again.complete) == (0, 1, True)
    assert len(arxiv_api.requests) == 1  # stored papers are never fetched again


def test_a_library_only_subscriber_gets_a_digest_that_says_why(
    settings: Settings, engine: Engine, arxiv_api: ArxivApi, day_listed: None, shared_data: Path
) -> None:
    # A paper of an earlier day (stored, no longer news) and two fetched from arXiv.
    with transaction(engine) as session:
        earlier = listing_day(shared_data, date(2026, 6, 11))
        ingest_entries(session, earlier, now=NOW - timedelta(days=5))
    sid = new_subscriber(engine)  # no topics, no authors: only the library
    settings = settings_for(settings, arxiv_api)
    report = add(settings, engine, sid, "2606.11645\n2606.13677\n2606.13515\n", quick())
    assert (report.added, report.fetched, report.complete) == (3, 1, True)
    with transaction(engine) as session:
        liked = {p.id: p.title for p in feedback_for(session, [sid])[sid].liked}

    digest = compose_digest(settings, engine, "ada@example.org", DAY, now=NOW)

    # With words alone (no stored sentence vectors), the day's one close paper: the
    # micro-gesture paper's neighbour among the 250 papers of 2026-06-12.
    assert digest.picks, "a library alone must yield a digest when a paper is close to it"
    for pick in digest.picks:
        match = re.fullmatch(r"close to '(.+?)…?', from your library(; .*)?", pick.reason)
        assert match, pick.reason
        assert any(title.startswith(match[1]) for title in liked.values()), pick.reason
        assert pick.paper.id not in liked  # never a paper you have
    assert "Motion Reinforces Appearance" in digest.picks[0].reason


def test_ids_are_fetched_a_hundred_at_a_time_and_politely(
    settings: Settings, engine: Engine, arxiv_api: ArxivApi
) -> None:
    sid = new_subscriber(engine, topics=("robot manipulation",))
    wanted = ["2606.13677", *(f"2606.{n:05d}" for n in range(20000, 20149))]
    sleeps: list[float] = []
    report = add(settings_for(settings, arxiv_api), engine, sid, "\n".join(wanted), quick(sleeps))

    assert [len(ids) for ids in arxiv_api.asked] == [100, 50]
    assert [i for ids in arxiv_api.asked for i in ids] == wanted
    assert len(sleeps) == 1
    assert sleeps[0] == pytest.approx(3.0, abs=0.01)
    assert report.added == 1
    assert len(report.not_found) == 149
    assert report.not_found[0] == "line 2: arXiv has no paper 2606.20000"


def test_an_unreachable_arxiv_is_reported_by_line_and_keeps_the_rest(
    settings: Settings, engine: Engine, day_listed: None
) -> None:
    sid = new_subscriber(engine)
    library = settings.library.model_copy(update={"arxiv_api_url": "http://127.0.0.1:9/api/query"})
    settings = settings.model_copy(update={"library": library})
    report = add(settings, engine, sid, "2606.13515\n2606.13677\n", quick())
    assert report.added == 1  # the stored one
    assert report.fetch_error is not None
    assert "cannot connect" in report.fetch_error
    assert report.not_found == [
        f"line 2: arXiv 2606.13677 could not be fetched ({report.fetch_error})"
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02\xff" * 5000, "not a text file"),
        (b"1706.03762\n" * 200_000, "at most 2 MB"),
        (b"@article{broken, title={" + b"{" * 500_000, "no BibTeX entry could be read"),
        ("\n".join(f"2401.{n:05d}" for n in range(1500)).encode(), "at most 1000"),
        (b"   \n\n# only a comment\n", "found no papers"),
    ],
)
def test_hostile_files_are_refused_whole_and_store_nothing(
    settings: Settings, engine: Engine, arxiv_api: ArxivApi, data: bytes, message: str
) -> None:
    sid = new_subscriber(engine)
    with pytest.raises(LibraryError, match=message):
        add(settings_for(settings, arxiv_api), engine, sid, data, quick())
    assert arxiv_api.requests == []
    with transaction(engine) as session:
        assert session.scalars(select(FeedbackRow)).all() == []


def test_a_digest_for_a_subscriber_with_nothing_at_all_is_empty_not_an_error(
    settings: Settings, engine: Engine, day_listed: None
) -> None:
    new_subscriber(engine)
    digest = compose_digest(settings, engine, "ada@example.org", DAY, now=NOW)
    assert digest.picks == ()
