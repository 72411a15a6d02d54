"""`digest send` and `digest preview` through the command line, mail to the outbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from digest.store.delivery_reads import ledger_entries
from digest.store.engine import transaction
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


def outcomes(output: str) -> dict[str, int]:
    """The summary table `digest send` prints: outcome → number of digests."""
    return {label: int(n) for label, n in re.findall(r"│ ([a-z][a-z ()]+?) +│ +(\d+) +│", output)}


def test_a_dry_run_foretells_the_run_for_a_feed_only_subscriber_with_nothing_new(
    run_cli: Callable[..., Any], config_file: Path, engine: Engine, tmp_path: Path
) -> None:
    """With digest.skip_when_empty off, a feed-only subscriber whom nothing matched is
    published (an empty day in their feed), not mailed: the dry run says so beforehand."""
    config_file.write_text(config_file.read_text() + "[digest]\nskip_when_empty = false\n")
    now = datetime.now(UTC)
    add_papers(engine, now - timedelta(hours=2))
    add_subscribers(engine, 1, now=now)
    add_subscribers(engine, 1, now=now, topic="medieval poetry", prefix="poet", feed_only=True)
    add_subscribers(engine, 1, now=now, topic="medieval poetry", prefix="bard")

    dry = run_cli("--config", str(config_file), "send", "--all", "--dry-run")
    assert dry.code == 0, dry
    foretold = outcomes(dry.out)
    assert foretold == {
        "would send": 2,
        "skipped (nothing new)": 0,
        "published to the feed only": 1,
    }

    real = run_cli("--config", str(config_file), "send", "--all")
    assert real.code == 0, real
    done = outcomes(real.out)
    assert done["sent"] == foretold["would send"]
    assert done["skipped (nothing new)"] == foretold["skipped (nothing new)"]
    assert done["published to the feed only"] == foretold["published to the feed only"]
    outbox = tmp_path / "data" / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 2
    with transaction(engine) as session:
        ledger = {entry.email: entry.status for entry in ledger_entries(session)}
    assert ledger == {
        "reader0@example.org": "sent",
        "poet0@example.org": "published",
        "bard0@example.org": "sent",
    }


def test_preview_of_an_unknown_address_is_one_line(
    run_cli: Callable[..., Any], config_file: Path, engine: Engine
) -> None:
    result = run_cli("--config", str(config_file), "preview", "nobody@example.org")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert "nobody@example.org" in result.err
