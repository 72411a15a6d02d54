"""A normal (non-editable) install carries the templates, migrations and demo data."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_bundles_templates_migrations_and_demo_data(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    subprocess.run(
        [uv, "build", "--wheel", "-o", str(tmp_path), str(ROOT)], check=True, capture_output=True
    )
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in (ROOT / "alembic", ROOT / "templates"):
        for path in source.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                bundled = f"digest/_bundled/{path.relative_to(ROOT).as_posix()}"
                assert bundled in names, f"{bundled} is missing from the wheel"
    assert "digest/demo/papers.jsonl" in names
    assert "digest/rank/model/tokenizer.json" in names
    assert "digest/rank/model/NOTICE" in names
