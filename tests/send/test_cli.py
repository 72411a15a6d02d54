"""`digest send` and `digest preview` through the command line, mail to the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tests.send.scenario import add_papers, add_subscribers


def test_send_all_then_again(
    run_cli: Callable[..., Any], config_file: Path, engine: Engine, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=2))
    emails = add_subscribers(engine, 3, now=now)
    add_subscribers(engine, 1, now=now, topic="medieval poetry", prefix="poet")

    dry = run_cli("--config", str(config_file), "send", "--all", "--dry-run")
    assert dry.code == 0, dry
    assert "would send" in dry.out
    assert not (tmp_path / "data" / "outbox").exists()

    result = run_cli("--config", str(config_file), "send", "--all")
    assert result.code == 0, result
    assert "sent" in result.out
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 3

    again = run_cli("--config", str(config_file), "send", "--all")
    assert again.code == 0, again
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 3

    preview = run_cli("--config", str(config_file), "preview", emails[0], "--format", "text")
    assert preview.code == 0, preview
    assert "Unsubscribe" in preview.out or "unsubscribe" in preview.out


def test_preview_of_an_unknown_address_is_one_line(
    run_cli: Callable[..., Any], config_file: Path, engine: Engine
) -> None:
    result = run_cli("--config", str(config_file), "preview", "nobody@example.org")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "nobody@example.org" in result.err
