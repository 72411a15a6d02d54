"""`digest rank`: JSONL in, one line of picks per profile out; bad lines exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from digest.records import Paper
from tests.conftest import CliResult


def write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def papers_file(tmp_path: Path, small_day: list[Paper]) -> Path:
    rows = [
        {
            "id": p.id,
            "title": p.title,
            "abstract": p.abstract,
            "categories": list(p.categories),
            "authors": list(p.authors),
            "upvotes": p.upvotes,
        }
        for p in small_day
    ]
    return write_jsonl(tmp_path / "papers.jsonl", rows)


def test_rank_prints_one_line_per_profile(
    tmp_path: Path, papers_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    profiles = write_jsonl(
        tmp_path / "profiles.jsonl",
        [
            {"id": "splats", "topics": ["gaussian splatting"]},
            {"id": "nothing", "topics": ["protein folding"]},
            {"id": "author", "topics": [], "authors": ["G. Hinton"]},
        ],
    )
    result = run_cli("rank", "--papers", str(papers_file), "--profiles", str(profiles))
    assert result.code == 0, result
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["profile"] for line in lines] == ["splats", "nothing", "author"]
    assert set(lines[0]["ranked"]) == {"g1", "g2"}
    assert len(lines[0]["scores"]) == len(lines[0]["reasons"]) == 2
    assert "gaussian splatting" in lines[0]["reasons"][0]
    assert lines[1]["ranked"] == []
    assert lines[2]["ranked"] == ["q1"]


def test_top_limits_the_picks(
    tmp_path: Path, papers_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    profiles = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "topics": ["gaussian splatting"]}])
    result = run_cli(
        "rank", "--papers", str(papers_file), "--profiles", str(profiles), "--top", "1"
    )
    assert result.code == 0, result
    assert len(json.loads(result.out)["ranked"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "topics": ["x"]}\n{not json\n', "p.jsonl line 2: not valid JSON"),
        ('{"id": "a"}\n', "p.jsonl line 1: missing field 'topics'"),
        ('{"topics": ["x"]}\n', "p.jsonl line 1: missing field 'id'"),
        ('{"id": "a", "topics": "x"}\n', "'topics' must be a list of strings"),
        ("[1, 2]\n", "p.jsonl line 1: expected a JSON object"),
    ],
)
def test_bad_profiles_exit_2_with_one_line(
    tmp_path: Path, papers_file: Path, run_cli: Callable[..., CliResult], content: str, message: str
) -> None:
    profiles = tmp_path / "p.jsonl"
    profiles.write_text(content, encoding="utf-8")
    result = run_cli("rank", "--papers", str(papers_file), "--profiles", str(profiles))
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1


def test_bad_papers_exit_2(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    papers = write_jsonl(tmp_path / "day.jsonl", [{"id": "a", "title": "A"}, {"id": "b"}])
    profiles = write_jsonl(tmp_path / "p.jsonl", [{"id": "u", "topics": ["a"]}])
    result = run_cli("rank", "--papers", str(papers), "--profiles", str(profiles))
    assert result.code == 2
    assert "day.jsonl line 2: missing field 'title'" in result.err
