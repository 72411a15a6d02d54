"""`digest fetch` prints a per-source table and exits 0, or 3 when a source failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from digest.sources.http import ARXIV_THROTTLE
from tests.conftest import CliResult
from tests.sources.conftest import FeedServer, Reply, fixture_bytes


def write_config(config_file: Path, sources: dict[str, tuple[str, str]]) -> Path:
    tables = "".join(
        f'\n[[sources]]\nname = "{name}"\nkind = "{kind}"\nurl = "{url}"\n'
        for name, (kind, url) in sources.items()
    )
    config_file.write_text(config_file.read_text() + tables)
    return config_file


def test_fetch_table_and_exit_codes(
    run_cli: Callable[..., CliResult], config_file: Path, feed_server: FeedServer
) -> None:
    write_config(
        config_file,
        {
            "arxiv-cl": (
                "arxiv-rss",
                feed_server.route("/rss", Reply(200, fixture_bytes("arxiv_rss2_cs.CL.xml"))),
            ),
            "weekend": (
                "rss",
                feed_server.route(
                    "/empty", Reply(200, fixture_bytes("arxiv_rss2_empty_weekend.xml"))
                ),
            ),
            "broken": (
                "rss",
                feed_server.route("/html", Reply(200, fixture_bytes("not_a_feed.html"))),
            ),
        },
    )
    assert run_cli("--config", str(config_file), "db", "upgrade").code == 0

    only = run_cli(
        "--config", str(config_file), "fetch", "--source", "arxiv-cl", "--source", "weekend"
    )
    assert only.code == 0, only
    assert "arxiv-cl" in only.out
    assert "weekend" in only.out
    assert "broken" not in only.out
    assert "no entries" in only.out

    ARXIV_THROTTLE.reset()  # the same arXiv host again would wait its 3 s turn
    everything = run_cli("--config", str(config_file), "fetch", "--format", "json")
    assert everything.code == 3, everything
    rows = {row["name"]: row for row in json.loads(everything.out)}
    assert rows["arxiv-cl"]["unchanged"] == 5
    assert rows["arxiv-cl"]["ok"]
    assert not rows["broken"]["ok"]
    assert "HTML page" in rows["broken"]["error"]
    assert "source broken: got an HTML page" in everything.err
    assert "Traceback" not in everything.err


def test_unknown_source_is_a_usage_error(
    run_cli: Callable[..., CliResult], config_file: Path
) -> None:
    assert run_cli("--config", str(config_file), "db", "upgrade").code == 0
    result = run_cli("--config", str(config_file), "fetch", "--source", "nope")
    assert result.code == 2
    assert "no source named 'nope'" in result.err
