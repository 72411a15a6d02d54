"""Shared fixtures: fresh databases (SQLite and PostgreSQL), settings, paths to shared data.

Every storage test runs on both back ends through the `engine` fixture. PostgreSQL tests
need the server at 127.0.0.1:5432 (override with DIGEST_TEST_PG_URL); without it they are
skipped, unless DIGEST_REQUIRE_POSTGRES=1 (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from digest.config import Settings, load_settings
from digest.rank.embed import Embedder, load_embedder
from digest.store import migrations
from digest.store.engine import open_engine
from tests.arxiv_api import ArxivApi, serve_arxiv_api

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DIGEST_SHARED_DATA", ROOT.parent / "shared" / "data"))
PG_ADMIN_URL = os.environ.get(
    "DIGEST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("DIGEST_REQUIRE_POSTGRES") == "1"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own config or environment."""
    for name in list(os.environ):
        if name.startswith("DIGEST_") and name not in (
            "DIGEST_TEST_PG_URL",
            "DIGEST_REQUIRE_POSTGRES",
            "DIGEST_SHARED_DATA",
        ):
            monkeypatch.delenv(name)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged sentence model, loaded once for the whole run (the code under test
    shares it: a process loads a model once)."""
    return load_embedder()


def assert_topics_embedded(engine: Engine, embedder: Embedder, *topics: str) -> None:
    """Each topic has its stored vector of the packaged model: the one the model gives."""
    from digest.store.engine import transaction
    from digest.store.vectors import topic_vectors

    with transaction(engine) as session:
        stored = topic_vectors(session, topics, embedder.model_id)
    assert sorted(stored) == sorted(set(topics))
    for topic in topics:
        assert float(stored[topic] @ embedder.embed([topic])[0]) > 0.9999, topic


def stored_vectors(engine: Engine) -> dict[str, tuple[str | None, np.ndarray | None]]:
    """Each paper's (by key) model id and vector."""
    from sqlalchemy import select

    from digest.store.engine import transaction
    from digest.store.schema import PaperRow
    from digest.store.vectors import from_bytes

    with transaction(engine) as session:
        rows = session.execute(select(PaperRow.key, PaperRow.embedding_model, PaperRow.embedding))
        return {
            key: (model, None if data is None else from_bytes(data)) for key, model, data in rows
        }


def assert_papers_embedded(
    engine: Engine, embedder: Embedder, *, candidates_only: bool = False
) -> None:
    """Every paper (or every paper a digest can pick) has the vector the model gives it;
    with `candidates_only`, the others have none."""
    from sqlalchemy import select

    from digest.rank.embed import paper_text
    from digest.store.engine import transaction
    from digest.store.schema import PaperRow

    query = select(PaperRow.key, PaperRow.title, PaperRow.abstract, PaperRow.old_news)
    with transaction(engine) as session:
        papers = session.execute(query).all()
    stored = stored_vectors(engine)
    assert papers
    for key, title, abstract, old_news in papers:
        model, vector = stored[key]
        if candidates_only and old_news:
            assert (model, vector) == (None, None)
            continue
        assert model == embedder.model_id, key
        assert vector is not None
        assert float(vector @ embedder.embed([paper_text(title, abstract)])[0]) > 0.9999, key


def _pg_admin() -> Engine:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc.orig).strip()[:120]}"
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    return engine


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped after the test."""
    admin = _pg_admin()
    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with no schema."""
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a fresh database migrated to head (SQLite and PostgreSQL)."""
    migrations.upgrade(empty_engine)
    return empty_engine


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for a test: its own data directory and database, mail to an outbox."""
    return load_settings(
        service={"data_dir": str(tmp_path / "data")},
        database={"url": db_url},
        web={"secret_key": "test-secret-key", "base_url": "http://127.0.0.1:8000"},
        mail={"from_address": "digest@example.org"},
        sources=[],
    )


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-500:]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `digest ARGS…` through the console-script entry point, in this process."""
    from digest.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    """A config file for CLI tests: its own database and data directory, outbox mail."""
    path = tmp_path / "digest.toml"
    path.write_text(
        f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "{db_url}"\n'
        '[web]\nsecret_key = "test-secret-key"\n'
        '[mail]\nfrom_address = "digest@example.org"\n'
    )
    return path


@pytest.fixture
def arxiv_api(shared_data: Path) -> Iterator[ArxivApi]:
    """The arXiv API on 127.0.0.1, answering `id_list` queries from recorded responses."""
    with serve_arxiv_api(*sorted((shared_data / "raw").glob("arxiv_api_*.xml"))) as api:
        yield api
