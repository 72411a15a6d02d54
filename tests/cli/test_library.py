"""`digest subscribers library EMAIL FILE` against the arXiv API served on 127.0.0.1 from
recorded responses, on SQLite and PostgreSQL: messages by line and documented exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.sources import http as source_http
from digest.store.engine import open_engine, transaction
from digest.store.library import library_of
from digest.store.subscribers import get_subscriber
from tests.arxiv_api import ArxivApi
from tests.conftest import CliResult

ZOTERO_CSV = (
    '"Key","Item Type","Publication Year","Author","Title","Publication Title","DOI","Url",'
    '"Extra"\n'
    '"Q7ZK2M","preprint","2026","Yin, Zhao-Heng","Mana: Dexterous Manipulation of Articulated '
    'Tools","","","http://arxiv.org/abs/2606.13677v1","arXiv:2606.13677 [cs]"\n'
    '"B2JX9F","preprint","2026","Elahi, Ali","Multiagent Protocols with Aggregated Confidence '
    'Signals","","10.48550/arXiv.2606.13591","",""\n'
    '"C3ZZ1A","journalArticle","2012","Krizhevsky, Alex","ImageNet classification, with deep '
    'CNNs","NeurIPS","","",""\n'
)
RIS = "\n".join(
    [
        "TY  - JOUR",
        "TI  - GF-DiT: Scheduling Parallelism for Diffusion Transformer Serving",
        "UR  - https://arxiv.org/abs/2606.13501",
        "ER  - ",
        "",
        "TY  - JOUR",
        "TI  - An old-style preprint",
        "N1  - arXiv:hep-th/9901001",
        "ER  - ",
        "",
    ]
)


@pytest.fixture(autouse=True)
def _fresh_arxiv_throttle() -> None:
    source_http.ARXIV_THROTTLE.reset()


@pytest.fixture
def cfg(
    config_file: Path, arxiv_api: ArxivApi, run_cli: Callable[..., CliResult]
) -> tuple[str, ...]:
    with config_file.open("a") as file:
        file.write(f'[library]\narxiv_api_url = "{arxiv_api.url}"\n')
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "db", "upgrade").code == 0
    added = run_cli(*cfg, "subscribers", "add", "ada@example.org", "--confirmed")
    assert added.code == 0, added  # no topics: a library alone is enough
    return cfg


def library_titles(config_file: Path) -> set[str]:
    url = config_file.read_text().split('url = "', 1)[1].split('"', 1)[0]
    engine = open_engine(url)
    try:
        with transaction(engine) as session:
            sub = get_subscriber(session, "ada@example.org")
            _, papers = library_of(session, sub.id)
    finally:
        engine.dispose()
    return {p.title for p in papers}


def test_a_zotero_csv_export(
    cfg: tuple[str, ...],
    config_file: Path,
    run_cli: Callable[..., CliResult],
    arxiv_api: ArxivApi,
    tmp_path: Path,
) -> None:
    path = tmp_path / "zotero.csv"
    path.write_text(ZOTERO_CSV)
    result = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(path))
    assert result.code == 3, result
    assert "line 4: 'ImageNet classification, with deep CNNs' has no arXiv id" in result.err
    assert "2 papers added to your library, 2 fetched from arXiv" in result.out
    assert arxiv_api.asked == [["2606.13677", "2606.13591"]]
    assert library_titles(config_file) == {
        "Mana: Dexterous Manipulation of Articulated Tools",
        "Multiagent Protocols with Aggregated Confidence Signals",
    }
    shown = json.loads(run_cli(*cfg, "subscribers", "show", "ada@example.org").out)
    assert shown["topics"] == []


def test_ris_from_standard_input(
    cfg: tuple[str, ...],
    config_file: Path,
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(RIS.encode())))
    result = run_cli(*cfg, "subscribers", "library", "ada@example.org", "-")
    assert result.code == 3, result
    assert result.err.strip() == "line 6: arXiv has no paper hep-th/9901001"
    assert library_titles(config_file) == {
        "GF-DiT: Scheduling Parallelism for Diffusion Transformer Serving"
    }


def test_every_line_found_exits_0(
    cfg: tuple[str, ...], run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("https://arxiv.org/abs/2606.13677v1\narXiv:2606.13568\n")
    result = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(path))
    assert result.code == 0, result
    assert result.err == ""
    again = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(path))
    assert again.code == 0
    assert "0 papers added to your library, 2 already there" in again.out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "not a text file"),
        (b"% " + b"x" * 2_100_000, "at most 2 MB"),
        (b"@article{a, title = {unbalanced\n@article{b, title={also {broken}\n", "malformed"),
    ],
)
def test_hostile_files_get_one_line_and_exit_2(
    cfg: tuple[str, ...],
    config_file: Path,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "library.bin"
    path.write_bytes(content)
    result = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(path))
    assert result.code == 2, result
    assert message in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert library_titles(config_file) == set()


def test_unknown_subscriber_and_missing_file_exit_2(
    cfg: tuple[str, ...], run_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "ids.txt"
    path.write_text("2606.13677\n")
    unknown = run_cli(*cfg, "subscribers", "library", "bob@example.org", str(path))
    assert unknown.code == 2
    assert "no subscriber" in unknown.err
    missing = run_cli(*cfg, "subscribers", "library", "ada@example.org", str(tmp_path / "nope"))
    assert missing.code == 2
    assert "cannot read" in missing.err
