"""`digest subscribers votes EMAIL [--reset]` on SQLite and PostgreSQL, with the real
sentence model's vectors: the counts, what was learned, forgetting, and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from digest.rank.embed import Embedder
from digest.store.engine import open_engine, transaction
from digest.store.library import library_of, like_from_library
from tests.conftest import CliResult
from tests.votes import NOW, PAPERS, UNEMBEDDED, add_reader, store_papers, vote


@pytest.fixture
def cli_engine(
    config_file: Path, db_url: str, run_cli: Callable[..., CliResult]
) -> Iterator[Engine]:
    assert run_cli("--config", str(config_file), "db", "upgrade").code == 0
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def test_votes_show_what_was_learned_and_reset_forgets_them(
    config_file: Path, cli_engine: Engine, embedder: Embedder, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    ids = store_papers(cli_engine, embedder)
    ada = add_reader(cli_engine, "ada@example.org")
    vote(cli_engine, ada, ids["2605.00001"], 1)

    few = run_cli(*cfg, "subscribers", "votes", "ada@example.org")
    assert few.code == 0, few
    assert "ada@example.org: 1 vote (1 👍, 0 👎)" in few.out
    assert "The model takes over at 2 votes" in few.out
    assert '"more like this" and "fewer like this"' in few.out

    vote(cli_engine, ada, ids["2605.00003"], -1)
    with transaction(cli_engine) as session:
        like_from_library(session, ada, [ids["2605.00005"]], now=NOW)
    shown = run_cli(*cfg, "subscribers", "votes", "ADA@example.org", "--format", "json")
    assert shown.code == 0, shown
    data = json.loads(shown.out)
    assert (data["liked"], data["disliked"], data["learned"], data["state"]) == (
        1,
        1,
        True,
        "learned",
    )
    assert [p["title"] for p in data["more_like"]] == [PAPERS["2605.00001"][0]]
    assert data["less_like"] == [
        {
            "id": "2605.00003",
            "title": PAPERS["2605.00003"][0],
            "url": "https://arxiv.org/abs/2605.00003",
        }
    ]
    table = run_cli(*cfg, "subscribers", "votes", "ada@example.org")
    assert "More like:\n  " + PAPERS["2605.00001"][0] + " (2605.00001)" in table.out
    assert "Less like:\n  " + PAPERS["2605.00003"][0] + " (2605.00003)" in table.out

    reset = run_cli(*cfg, "subscribers", "votes", "ada@example.org", "--reset")
    assert reset.code == 0, reset
    assert "Forgot 2 votes of ada@example.org; their library and topics stay." in reset.out
    after = json.loads(
        run_cli(*cfg, "subscribers", "votes", "ada@example.org", "--format", "json").out
    )
    assert (after["votes"], after["learned"], after["more_like"]) == (0, False, [])
    with transaction(cli_engine) as session:
        assert library_of(session, ada)[0] == 1  # the library stays
    again = run_cli(*cfg, "subscribers", "votes", "ada@example.org", "--reset", "--format", "json")
    assert json.loads(again.out) == {"email": "ada@example.org", "forgotten": 0}


def test_votes_on_papers_without_vectors_wait_for_db_embed(
    config_file: Path, cli_engine: Engine, embedder: Embedder, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    ids = store_papers(cli_engine, embedder)
    ada = add_reader(cli_engine, "ada@example.org")
    vote(cli_engine, ada, ids["2605.00001"], 1)
    vote(cli_engine, ada, ids[UNEMBEDDED], -1)
    waiting = run_cli(*cfg, "subscribers", "votes", "ada@example.org")
    assert "The model takes over once 2 of the voted papers have sentence vectors" in waiting.out
    assert "(1 so far; `digest db embed` computes the missing ones)" in waiting.out
    assert run_cli(*cfg, "db", "embed").code == 0
    done = json.loads(
        run_cli(*cfg, "subscribers", "votes", "ada@example.org", "--format", "json").out
    )
    assert done["state"] == "learned"
    assert [p["id"] for p in done["less_like"]] == [UNEMBEDDED]


def test_votes_of_an_unknown_subscriber_exit_2(
    config_file: Path, cli_engine: Engine, run_cli: Callable[..., CliResult]
) -> None:
    for extra in ((), ("--reset",)):
        result = run_cli(
            "--config", str(config_file), "subscribers", "votes", "no@example.org", *extra
        )
        assert result.code == 2, result
        assert result.err.startswith("Error: ")
        assert "no@example.org" in result.err
        assert len(result.err.strip().splitlines()) == 1
