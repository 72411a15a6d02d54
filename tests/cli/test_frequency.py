"""Daily or weekly digests from the command line: add, update, list, export and import."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    args = ("--config", str(config_file))
    assert run_cli(*args, "db", "upgrade").code == 0
    return args


def listed(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> dict[str, dict[str, Any]]:
    result = run_cli(*cfg, "subscribers", "list", "--format", "json")
    assert result.code == 0, result
    return {s["email"]: s for s in json.loads(result.out)}


def test_add_and_update_weekly_subscribers(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    add = ("subscribers", "add")
    result = run_cli(*cfg, *add, "ada@example.org", "--topic", "agents", "--confirmed")
    assert result.code == 0, result
    result = run_cli(
        *cfg, *add, "bo@example.org", "--topic", "agents", "--frequency", "weekly",
        "--weekday", "mon", "--confirmed",
    )  # fmt: skip
    assert result.code == 0, result
    assert "Added bo@example.org (active, weekly on mon)" in result.out
    weekly_default = ("cy@example.org", "--topic", "agents", "--frequency", "WEEKLY")
    assert run_cli(*cfg, *add, *weekly_default, "--confirmed").code == 0

    subscribers = listed(run_cli, cfg)
    assert {e: (s["frequency"], s["weekday"]) for e, s in subscribers.items()} == {
        "ada@example.org": ("daily", None),
        "bo@example.org": ("weekly", "mon"),
        "cy@example.org": ("weekly", "mon"),  # a weekly digest goes out on Mondays by default
    }

    update = ("subscribers", "update")
    result = run_cli(*cfg, *update, "ada@example.org", "--frequency", "weekly", "--weekday", "Fri")
    assert result.code == 0, result
    assert "(active, weekly on fri)" in result.out
    assert run_cli(*cfg, *update, "bo@example.org", "--weekday", "sunday").code == 0
    assert run_cli(*cfg, *update, "cy@example.org", "--frequency", "daily").code == 0
    assert run_cli(*cfg, *update, "cy@example.org", "--feed-only").code == 0
    subscribers = listed(run_cli, cfg)
    assert {e: (s["frequency"], s["weekday"], s["feed_only"]) for e, s in subscribers.items()} == {
        "ada@example.org": ("weekly", "fri", False),
        "bo@example.org": ("weekly", "sun", False),
        "cy@example.org": ("daily", None, True),
    }
    assert subscribers["ada@example.org"]["topics"] == ["agents"]  # nothing else changed

    table = run_cli(*cfg, "subscribers", "list")
    assert "weekly on fri" in table.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--frequency", "weekly", "--weekday", "someday"), "is not a weekday"),
        (("--frequency", "monthly"), "'monthly' is not one of"),
        (("--weekday", "tue"), "weekly digests only"),
    ],
)
def test_bad_frequency_or_weekday_is_one_clean_line(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str], args: tuple[str, ...], message: str
) -> None:
    base = ("subscribers", "add", "ada@example.org", "--topic", "agents", "--confirmed")
    assert run_cli(*cfg, *base).code == 0
    result = run_cli(*cfg, "subscribers", "update", "ada@example.org", *args)
    assert result.code == 2, result
    assert message in result.err
    assert "Traceback" not in result.err
    assert listed(run_cli, cfg)["ada@example.org"]["frequency"] == "daily"  # nothing changed


def test_export_and_import_carry_frequency_and_weekday(
    tmp_path: Path, run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "email,topics,frequency,weekday\n"
        "ada@example.org,agents,weekly,thu\n"
        "bo@example.org,agents,daily,\n"
        "cy@example.org,agents,,\n"
    )
    assert run_cli(*cfg, "subscribers", "import", str(source)).code == 0
    exported = run_cli(*cfg, "subscribers", "export")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(exported.out))}
    assert {e: (r["frequency"], r["weekday"]) for e, r in rows.items()} == {
        "ada@example.org": ("weekly", "thu"),
        "bo@example.org": ("daily", ""),
        "cy@example.org": ("daily", ""),
    }
    dry_run = ("subscribers", "import", "--dry-run")
    # Changing only the weekday is a change; the same file again changes nothing.
    source.write_text("email,topics,frequency,weekday\nada@example.org,agents,weekly,sat\n")
    assert re.search(r"updated\s*│\s*1\b", run_cli(*cfg, *dry_run, str(source)).out)
    assert run_cli(*cfg, "subscribers", "import", str(source)).code == 0
    assert listed(run_cli, cfg)["ada@example.org"]["weekday"] == "sat"
    assert re.search(r"unchanged\s*│\s*1\b", run_cli(*cfg, *dry_run, str(source)).out)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,topics,frequency,weekday\nok@example.org,agents,weekly,mon\n"
        "no@example.org,agents,fortnightly,\nday@example.org,agents,daily,wed\n"
    )
    result = run_cli(*cfg, "subscribers", "import", str(bad))
    assert result.code == 2
    assert "line 3" in result.err
    assert "line 4" in result.err
    assert "ok@example.org" not in listed(run_cli, cfg)  # all or nothing
