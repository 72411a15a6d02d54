"""`digest suppressions`, `digest export-data` and `digest erase` through the entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    args = ("--config", str(config_file))
    assert run_cli(*args, "db", "upgrade").code == 0
    added = run_cli(
        *args, "subscribers", "add", "ada@example.org", "--topic", "agents", "--confirmed"
    )
    assert added.code == 0
    return args


def _status(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> str:
    shown = run_cli(*cfg, "subscribers", "show", "ada@example.org")
    return str(json.loads(shown.out)["status"])


def test_suppress_and_lift(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> None:
    assert run_cli(*cfg, "suppressions", "add", "Ada@example.org", "--reason", "trap").code == 0
    assert _status(run_cli, cfg) == "bounced"
    listed = json.loads(run_cli(*cfg, "suppressions", "list", "--format", "json").out)
    assert [(s["email"], s["reason"], s["source"]) for s in listed] == [
        ("ada@example.org", "trap", "operator")
    ]
    again = run_cli(*cfg, "suppressions", "add", "ada@example.org")
    assert "already" in again.out
    assert run_cli(*cfg, "suppressions", "remove", "ada@example.org").code == 0
    assert json.loads(run_cli(*cfg, "suppressions", "list", "--format", "json").out) == []
    missing = run_cli(*cfg, "suppressions", "remove", "ada@example.org")
    assert missing.code == 2
    assert "not suppressed" in missing.err


def test_export_data_then_erase(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    out = tmp_path / "ada.json"
    assert run_cli(*cfg, "export-data", "ada@example.org", "--output", str(out)).code == 0
    data = json.loads(out.read_text())
    assert data["subscriber"]["email"] == "ada@example.org"
    assert data["subscriber"]["topics"] == ["agents"]
    assert (data["subscriber"]["frequency"], data["subscriber"]["weekday"]) == ("daily", None)
    assert data["subscriber"]["feed_only"] is False
    assert run_cli(*cfg, "erase", "ada@example.org", "--yes").code == 0
    assert json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out) == []
    gone = run_cli(*cfg, "erase", "ada@example.org", "--yes")
    assert gone.code == 2
    assert "no subscriber" in gone.err


def test_erase_asks_first(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> None:
    result = run_cli(*cfg, "erase", "ada@example.org")  # no terminal: the prompt aborts
    assert result.code == 1
    assert _status(run_cli, cfg) == "active"
