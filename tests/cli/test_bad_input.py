"""Bad input on the command line: exit 2 and one line on stderr, never a Python error, and
nothing stored half-way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

NOT_ZONES = ["Europe", "America", "Etc", "x" * 300, "Europe/", "../../etc/passwd"]


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    args = ("--config", str(config_file))
    assert run_cli(*args, "db", "upgrade").code == 0
    return args


def one_line_error(result: CliResult) -> str:
    """The single stderr line of a refused command (exit 2)."""
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: "), result.err
    assert "Traceback" not in result.err
    assert "zoneinfo" not in result.err
    assert "site-packages" not in result.err
    return lines[0]


def emails(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> list[str]:
    listed = run_cli(*cfg, "subscribers", "list", "--format", "json")
    return [s["email"] for s in json.loads(listed.out)]


@pytest.mark.parametrize("zone", NOT_ZONES)
def test_add_and_update_refuse_a_zone_that_is_not_one(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str], zone: str
) -> None:
    added = run_cli(
        *cfg, "subscribers", "add", "ada@example.org", "--topic", "x", "--timezone", zone
    )
    assert "not an IANA time zone" in one_line_error(added)
    assert emails(run_cli, cfg) == []
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "x", "--confirmed")
    updated = run_cli(*cfg, "subscribers", "update", "ada@example.org", "--timezone", zone)
    assert "not an IANA time zone" in one_line_error(updated)


@pytest.mark.parametrize("zone", NOT_ZONES)
def test_import_refuses_a_zone_that_is_not_one_and_imports_nothing(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str], zone: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(f"email,topics,timezone\nada@example.org,x,UTC\nbob@example.org,y,{zone}\n")
    line = one_line_error(run_cli(*cfg, "subscribers", "import", str(source)))
    assert line.startswith("Error: in.csv: line 3: ")
    assert "nothing was imported" in line
    assert emails(run_cli, cfg) == []


def test_zone_names_are_stored_in_their_own_spelling(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    added = run_cli(
        *cfg,
        "subscribers",
        "add",
        "ada@example.org",
        "--topic",
        "x",
        "--timezone",
        "asia/TOKYO",
        "--confirmed",
    )
    assert added.code == 0, added
    shown = json.loads(run_cli(*cfg, "subscribers", "show", "ada@example.org").out)
    assert shown["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "2026-02-30", "today"])
def test_dates_outside_the_calendar_a_digest_can_have(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str], day: str
) -> None:
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "x", "--confirmed")
    for command in (
        ("preview", "ada@example.org", "--date", day),
        ("send", "--all", "--dry-run", "--date", day),
        ("resend", "ada@example.org", "--date", day, "--yes"),
    ):
        line = one_line_error(run_cli(*cfg, *command))
        assert "--date" in line
        assert f"digest {command[0]} --help" in line


def test_the_first_and_last_dates_work(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "x", "--confirmed")
    for day in ("1900-01-01", "9998-12-31"):
        preview = run_cli(*cfg, "preview", "ada@example.org", "--date", day, "--format", "text")
        assert preview.code == 0, preview
        dry = run_cli(*cfg, "send", "--all", "--dry-run", "--date", day)
        assert dry.code == 0, dry


def test_output_files_that_cannot_be_written(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    assert run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "x", "--confirmed")
    missing = str(tmp_path / "missing" / "dir" / "x.out")
    for command in (
        ("subscribers", "export", "--output", missing),
        ("preview", "ada@example.org", "--output", missing),
        ("export-data", "ada@example.org", "--output", missing),
    ):
        line = one_line_error(run_cli(*cfg, *command))
        assert "No such file or directory" in line, line


def test_rank_on_deeply_nested_json(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        '{"id": "p", "title": "t", "abstract": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    )
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text('{"id": "u", "topics": ["x"]}\n' + "[" * 200_000 + "\n")
    line = one_line_error(run_cli("rank", "--papers", str(papers), "--profiles", str(profiles)))
    assert "papers.jsonl line 1" in line
    papers.write_text('{"id": "p", "title": "t"}\n')
    line = one_line_error(run_cli("rank", "--papers", str(papers), "--profiles", str(profiles)))
    assert "profiles.jsonl line 2: JSON nested too deeply" in line


def test_a_1mb_cell_and_unreadable_files(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("email,topics\nada@example.org," + "x" * 1_048_576 + "\n")
    line = one_line_error(run_cli(*cfg, "subscribers", "import", str(source)))
    assert "line 2" in line
    assert "longer than" in line
    source.write_bytes(b"email,topics\nada@example.org,caf\xe9\n")
    assert "not UTF-8" in one_line_error(run_cli(*cfg, "subscribers", "import", str(source)))
    source.chmod(0o000)
    try:
        unreadable = run_cli(*cfg, "subscribers", "import", str(source))
    finally:
        source.chmod(0o600)
    if unreadable.code != 0:  # root reads any file
        one_line_error(unreadable)
    assert emails(run_cli, cfg) == []


@pytest.mark.parametrize(
    "url", ["nonsense://", "mysql://digest:s3cret@db/digest", "not a url", "postgres"]
)
def test_a_database_url_of_no_supported_database(
    tmp_path: Path, run_cli: Callable[..., CliResult], url: str
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    line = one_line_error(run_cli("--config", str(config), "stats"))
    assert "database.url" in line
    assert "SQLite or PostgreSQL" in line
    assert "s3cret" not in line
    secret = tmp_path / "database-url"
    secret.write_text(url)
    config.write_text(f'[database]\nurl_file = "{secret}"\n')
    line = one_line_error(run_cli("--config", str(config), "stats"))
    assert "database.url_file" in line
    assert "s3cret" not in line


@pytest.mark.parametrize(
    "key",
    [
        "[digest]\ndefault_timezone",
        "[[sources]]\nname = 'x'\nkind = 'rss'\nurl = 'http://127.0.0.1/'\ntimezone",
    ],
)
def test_a_configured_zone_that_is_not_one(
    tmp_path: Path, run_cli: Callable[..., CliResult], key: str
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(f'{key} = "Europe"\n')
    line = one_line_error(run_cli("--config", str(config), "stats"))
    assert "not an IANA time zone" in line
