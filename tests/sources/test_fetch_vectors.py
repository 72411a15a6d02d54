"""`digest fetch` stores every new paper with its sentence vector (the real model), on
SQLite and PostgreSQL; a paper already embedded is not embedded again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from digest.rank.embed import Embedder
from digest.sources import http as source_http
from digest.store.engine import open_engine
from tests.conftest import CliResult, assert_papers_embedded
from tests.sources.conftest import FeedServer, Reply, fixture_bytes


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def test_fetch_stores_every_new_paper_with_its_vector(
    config_file: Path,
    feed_server: FeedServer,
    run_cli: Callable[..., CliResult],
    db: Engine,
    embedder: Embedder,
) -> None:
    url = feed_server.route("/rss", Reply(200, fixture_bytes("arxiv_rss2_cs.CL.xml")))
    with config_file.open("a") as file:
        file.write(f'\n[[sources]]\nname = "arxiv-cl"\nkind = "arxiv-rss"\nurl = "{url}"\n')
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "db", "upgrade").code == 0
    first = run_cli(*cfg, "fetch")
    assert first.code == 0, first
    # The three new papers; the two replacements of older papers are never candidates.
    assert f"Embedded 3 papers with {embedder.model_id}" in first.out
    assert_papers_embedded(db, embedder, candidates_only=True)
    source_http.ARXIV_THROTTLE.reset()
    again = run_cli(*cfg, "fetch")
    assert again.code == 0, again
    assert "Embedded" not in again.out  # kept, not computed again
