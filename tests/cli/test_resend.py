"""`digest resend`: the one explicit way to send a day's digest twice; asked and logged."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import CliResult


def test_resend_sends_again_only_when_asked(
    config_file: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    cfg = ("--config", str(config_file))
    assert run_cli(*cfg, "demo").code == 0
    outbox = tmp_path / "data" / "outbox"
    before = len(list(outbox.glob("*.eml")))
    assert run_cli(*cfg, "send", "--all").code == 0
    assert len(list(outbox.glob("*.eml"))) == before + 1
    assert run_cli(*cfg, "send", "--all").code == 0
    assert len(list(outbox.glob("*.eml"))) == before + 1

    today = datetime.now(UTC).date().isoformat()
    asked = run_cli(*cfg, "resend", "demo@example.org", "--date", today)
    assert asked.code == 1  # no terminal to answer the question: nothing happens
    assert len(list(outbox.glob("*.eml"))) == before + 1

    result = run_cli(*cfg, "resend", "demo@example.org", "--date", today, "--yes")
    assert result.code == 0, result
    assert len(list(outbox.glob("*.eml"))) == before + 2
    history = json.loads(run_cli(*cfg, "export-data", "demo@example.org").out)
    assert any(e["kind"] == "resend" and today in e["detail"] for e in history["events"])
    assert [d["status"] for d in history["deliveries"]] == ["sent"]
    # The papers of the digest sent again, as its ledger row keeps them, with their titles.
    papers = history["deliveries"][0]["papers"]
    assert papers
    assert all(p["id"] and p["title"] and p["reason"] for p in papers)


def test_resend_unknown_subscriber(config_file: Path, run_cli: Callable[..., CliResult]) -> None:
    cfg = ("--config", str(config_file))
    run_cli(*cfg, "db", "upgrade")
    result = run_cli(*cfg, "resend", "nobody@example.org", "--date", "2026-06-02", "--yes")
    assert result.code == 2
    assert "no subscriber" in result.err
