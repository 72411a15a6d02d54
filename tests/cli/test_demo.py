"""`digest demo`: from nothing to a digest in the outbox, with no network."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult


def test_demo_writes_a_digest_to_the_outbox(
    config_file: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    result = run_cli("--config", str(config_file), "demo")
    assert result.code == 0, result
    outbox = tmp_path / "data" / "outbox"
    emls = list(outbox.glob("*.eml"))
    assert len(emls) == 1
    message = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "demo@example.org"
    assert "gaussian splatting" in str(message["Subject"])
    html = (outbox / "demo-digest.html").read_text()
    assert "3D Gaussian Splatting for Real-Time Radiance Field Rendering" in html
    assert str(outbox / "demo-digest.html") in result.out
    again = run_cli("--config", str(config_file), "demo")
    assert again.code == 0, again
