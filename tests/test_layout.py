"""The package's layout as the README and the style promise it: every module of `digest/`
named in the README's layout table, opening with a docstring that says what it owns, and
under 400 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "digest"
MAX_LINES = 400


def modules() -> list[Path]:
    """Every module with code or a docstring (an empty `__init__.py` only marks a package)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.read_text(encoding="utf-8").strip())


def layout_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| place | what it owns |")
    table = readme[start : readme.index("\n\n", start)]
    return set(re.findall(r"^\|\s*\**`([^`]+)`", table, re.MULTILINE))


def test_the_layout_table_names_every_module_and_nothing_else() -> None:
    named = layout_table()
    packages = {p.parent for p in PACKAGE.rglob("__init__.py")} - {PACKAGE}
    expected = {f"{p.relative_to(ROOT).as_posix()}/" for p in packages}
    expected |= {p.relative_to(ROOT).as_posix() for p in modules() if p.name != "__init__.py"}
    assert len(expected) > 100
    named_modules = {n for n in named if n.startswith("digest/")}
    assert expected - named_modules == set(), "modules missing from the README's layout table"
    assert named_modules - expected == set(), "the README's layout table names what is gone"


def test_every_module_says_what_it_owns_in_under_400_lines() -> None:
    for path in modules():
        text = path.read_text(encoding="utf-8")
        assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no docstring"
        lines = text.count("\n")
        assert lines < MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
