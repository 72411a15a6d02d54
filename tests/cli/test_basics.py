"""The command line: help everywhere, clean errors, the database commands, subscribers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from digest.cli import cli
from tests.conftest import CliResult


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(
    path: tuple[str, ...], run_cli: Callable[..., CliResult]
) -> None:
    result = run_cli(*path, "--help")
    assert result.code == 0, result
    assert "Example" in result.out, f"`digest {' '.join(path)} --help` shows no example"


def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nport = 'x'\n")
    result = run_cli("--config", str(bad), "subscribers", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "smtp.port" in result.err
    assert str(bad) in result.err


def test_commands_refuse_an_unmigrated_database(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    result = run_cli("--config", str(config_file), "subscribers", "list")
    assert result.code == 2
    assert "digest db upgrade" in result.err
    assert "Traceback" not in result.err


def test_upgrade_then_manage_subscribers(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "db", "upgrade").code == 0
    assert "up to date" in run_cli(*cfg, "db", "upgrade").out
    added = run_cli(
        *cfg,
        "subscribers",
        "add",
        "Ada@Example.ORG",
        "--topic",
        "LLM agents",
        "--topic",
        "tool use",
        "--timezone",
        "Europe/Berlin",
        "--send-at",
        "7:30",
        "--confirmed",
    )
    assert added.code == 0, added
    listed = json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out)
    assert len(listed) == 1
    assert listed[0]["email"] == "ada@example.org"
    assert listed[0]["status"] == "active"
    assert listed[0]["topics"] == ["LLM agents", "tool use"]
    assert (listed[0]["timezone"], listed[0]["send_at"]) == ("Europe/Berlin", "07:30")
    assert run_cli(*cfg, "subscribers", "pause", "ada@example.org").code == 0
    shown = json.loads(run_cli(*cfg, "subscribers", "show", "ada@example.org").out)
    assert shown["status"] == "paused"
    assert run_cli(*cfg, "subscribers", "remove", "ada@example.org").code == 0
    assert json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not-an-email", "--topic", "x"), "not a valid email address"),
        (("a@example.org", "--topic", "x", "--timezone", "Mars/Base"), "IANA time zone"),
        (("a@example.org", "--topic", "x", "--send-at", "25:61"), "HH:MM"),
    ],
)
def test_bad_subscriber_input(
    config_file: Path, run_cli: Callable[..., CliResult], args: tuple[str, ...], message: str
) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    result = run_cli(*cfg, "subscribers", "add", *args)
    assert result.code == 2
    assert message in result.err
    assert json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out) == []


def test_unknown_subscriber(config_file: Path, run_cli: Callable[..., CliResult]) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    result = run_cli(*cfg, "subscribers", "show", "nobody@example.org")
    assert result.code == 2
    assert "no subscriber" in result.err


def test_update_changes_only_what_is_given(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    run_cli(
        *cfg,
        "subscribers",
        "add",
        "ada@example.org",
        "--topic",
        "agents",
        "--timezone",
        "Asia/Tokyo",
        "--confirmed",
    )
    result = run_cli(
        *cfg,
        "subscribers",
        "update",
        "ada@example.org",
        "--send-at",
        "06:45",
        "--exclude",
        "survey",
    )
    assert result.code == 0, result
    shown = json.loads(run_cli(*cfg, "subscribers", "show", "ada@example.org").out)
    assert (shown["topics"], shown["timezone"], shown["send_at"], shown["exclude"]) == (
        ["agents"],
        "Asia/Tokyo",
        "06:45",
        ["survey"],
    )
    assert shown["status"] == "active"
    bad = run_cli(*cfg, "subscribers", "update", "ada@example.org", "--timezone", "Nowhere/X")
    assert bad.code == 2
    assert "IANA" in bad.err
    missing = run_cli(*cfg, "subscribers", "update", "bob@example.org", "--topic", "x")
    assert missing.code == 2
    assert "no subscriber" in missing.err


def test_db_current(config_file: Path, run_cli: Callable[..., CliResult]) -> None:
    cfg = ("--config", str(config_file))
    assert "database: empty" in run_cli(*cfg, "db", "current").out
    run_cli(*cfg, "db", "upgrade")
    lines = run_cli(*cfg, "db", "current").out.splitlines()
    assert lines[0].split()[-1] == lines[1].split()[-1] != "empty"
