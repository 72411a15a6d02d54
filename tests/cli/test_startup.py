"""The command line starts at once: `--help` of `digest` and of every command imports none
of the heavy libraries (numerical, model, database, web, mail), which only the commands
that use them load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HEAVY = (
    "numpy",
    "scipy",
    "onnxruntime",
    "tokenizers",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pydantic",
    "jinja2",
    "httpx",
    "apscheduler",
    "aiosmtplib",
    "starlette",
)

# Runs each argument list (a JSON list of lists) through the console-script entry point in
# one fresh interpreter, then prints, as JSON, each run's exit code and which of the heavy
# modules were imported by then. `ALL` stands for every command's `--help`.
RUNNER = """
import contextlib, io, json, sys
import click
from digest.cli import cli, main

def paths(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from paths(command, (*prefix, name))

runs = json.loads(sys.argv[1])
if runs == "ALL":
    runs = [["--help"]] + [[*path, "--help"] for path in paths(cli)]
results = []
for argv in runs:
    out, code = io.StringIO(), None
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
    results.append({"argv": argv, "code": code, "out": out.getvalue()})
heavy = json.loads(sys.argv[2])
print(json.dumps({"runs": results, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _run(runs: Any) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(runs), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_help_of_every_command_imports_no_heavy_library() -> None:
    result = _run("ALL")
    assert len(result["runs"]) > 30
    for run in result["runs"]:
        assert run["code"] in (0, None), run
        assert run["out"].startswith("Usage: digest"), run
    assert result["loaded"] == []


def test_a_command_that_needs_the_database_loads_it(tmp_path: Path) -> None:
    # The same check sees the libraries once a command really uses them.
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[service]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "test.sqlite3"}"\n'
    )
    result = _run([["--config", str(config), "db", "current"]])
    (run,) = result["runs"]
    assert run["code"] in (0, None), run
    assert "database: empty" in run["out"]
    assert {"sqlalchemy", "alembic", "pydantic"} <= set(result["loaded"])
