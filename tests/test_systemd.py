"""The systemd units: `systemd-analyze verify` is clean and the main unit is well hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
INSTALLED_BINARY = "/opt/digest/bin/digest"
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        reason = "systemd-analyze not installed (Debian package: systemd)"
        if os.environ.get("DIGEST_REQUIRE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return tool


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    """The units as installed, with ExecStart pointing at this checkout's `digest`."""
    digest = Path(sys.executable).with_name("digest")
    assert digest.exists(), f"the digest console script is missing next to {sys.executable}"
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace(INSTALLED_BINARY, str(digest))
        (tmp_path / unit.name).write_text(text)
    return tmp_path


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_units_exist_and_use_the_documented_binary() -> None:
    assert {u.name for u in UNITS.glob("*.service")} == {"digest.service", "digest-worker@.service"}
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert f"ExecStart={INSTALLED_BINARY} " in text
        assert "Type=notify" in text
        assert "Restart=on-failure" in text
        assert "LoadCredential=" in text
        assert "StateDirectory=digest" in text
    assert (
        "ExecStartPre=/opt/digest/bin/digest db upgrade" in (UNITS / "digest.service").read_text()
    )


@pytest.mark.parametrize("unit", ["digest.service", "digest-worker@.service"])
def test_systemd_analyze_verify_is_clean(systemd_analyze: str, unit_dir: Path, unit: str) -> None:
    result = run(systemd_analyze, "verify", f"./{unit}", cwd=unit_dir)
    complaints = [line for line in result.stderr.splitlines() if "digest" in line]
    assert result.returncode == 0, result.stderr
    assert complaints == []


@pytest.mark.parametrize("unit", ["digest.service", "digest-worker@.service"])
def test_the_units_are_hardened(systemd_analyze: str, unit_dir: Path, unit: str) -> None:
    result = run(
        systemd_analyze, "security", "--offline=yes", "--no-pager", f"./{unit}", cwd=unit_dir
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match[1]) <= MAX_EXPOSURE
