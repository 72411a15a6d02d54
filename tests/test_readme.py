"""The README's reference sections are generated: the CLI help and the example config.

If a test here fails after a change to a command's help or to config.example.toml, run
`uv run python tests/test_readme.py` to regenerate those README sections, and commit.
"""

from __future__ import annotations

import re
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click

from digest.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTIONS = ("cli-reference", "config-reference")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


def _help(path: tuple[str, ...]) -> str:
    width: dict[str, Any] = {"terminal_width": 100, "max_content_width": 100}
    ctx = cli.make_context("digest", [], resilient_parsing=True, **width)
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True, **width)
    return command.get_help(ctx)


def cli_reference() -> str:
    parts = ["```text", "$ digest --help", _help(()), "```"]
    for path in _commands(cli):
        parts += [
            "",
            f"#### digest {' '.join(path)}",
            "",
            "```text",
            f"$ digest {' '.join(path)} --help",
            _help(path),
            "```",
        ]
    return "\n".join(parts)


def config_reference() -> str:
    return "```toml\n" + (ROOT / "config.example.toml").read_text().rstrip() + "\n```"


def _generated(name: str) -> str:
    return cli_reference() if name == "cli-reference" else config_reference()


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name} -->\n)(.*?)(\n<!-- /{name} -->)", re.S)


def _fill(name: str, match: re.Match[str]) -> str:
    return match[1] + _generated(name) + match[3]


def regenerate(text: str) -> str:
    for name in SECTIONS:
        text = _pattern(name).sub(partial(_fill, name), text)
    return text


def test_readme_reference_sections_are_current() -> None:
    text = README.read_text()
    for name in SECTIONS:
        match = _pattern(name).search(text)
        assert match, f"README.md lacks the <!-- {name} --> section"
        assert match[2] == _generated(name), (
            f"README.md's {name} section is stale: run `uv run python tests/test_readme.py`"
        )


def test_every_command_appears_in_the_readme() -> None:
    text = README.read_text()
    for path in _commands(cli):
        assert f"digest {' '.join(path)}" in text


def test_quick_start_commands() -> None:
    text = README.read_text()
    assert "uv run digest serve" in text
    assert "uv run pytest" in text


if __name__ == "__main__":
    README.write_text(regenerate(README.read_text()))
    sys.stdout.write("README.md regenerated\n")
