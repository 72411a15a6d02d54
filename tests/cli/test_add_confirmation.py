"""`digest subscribers add` without --confirmed starts the double opt-in by email."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult


def test_add_without_confirmed_mails_a_confirmation_link(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "db", "upgrade").code == 0
    added = run_cli(*cfg, "subscribers", "add", "Ada@Example.org", "--topic", "LLM agents")
    assert added.code == 0, added
    assert "Sent a confirmation email to ada@example.org" in added.out
    outbox = config_file.parent / "data" / "outbox"
    (mail,) = outbox.glob("*.eml")
    assert b"/confirm/" in mail.read_bytes()
    listed = json.loads(run_cli(*cfg, "subscribers", "list", "--format", "json").out)
    assert [(s["email"], s["status"]) for s in listed] == [("ada@example.org", "pending")]


def test_add_updates_an_active_subscriber_without_mailing(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "a", "--confirmed")
    again = run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "b")
    assert again.code == 0, again
    assert "Updated ada@example.org (active)" in again.out
    assert not list((config_file.parent / "data" / "outbox").glob("*.eml"))


def test_the_daily_confirmation_cap_is_reported(
    config_file: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    outs = [
        run_cli(*cfg, "subscribers", "add", "ada@example.org", "--topic", "a").out for _ in range(4)
    ]
    assert "already got 3 confirmation emails" in outs[-1]
    assert len(list((config_file.parent / "data" / "outbox").glob("*.eml"))) == 3
