"""`digest subscribers import/export`: all-or-nothing imports, line-numbered errors, round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

HEADER = "email,topics,categories,authors,exclude,timezone,send_at,status,frequency,weekday\n"


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
        "07:30,active,daily,\n"
        "bob@example.org,gaussian splatting,,,,America/New_York,06:00,paused,weekly,fri\n"
    )
    result = run_cli(*cfg, "subscribers", "import", str(source))
    assert result.code == 0, result
    out = tmp_path / "out.csv"
    assert run_cli(*cfg, "subscribers", "export", "--output", str(out)).code == 0
    assert out.read_text() == source.read_text()
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
