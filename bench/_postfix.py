"""Postfix's `smtp-sink` and `smtp-source`, which the delivery benchmarks send into and
measure the ceiling with: where they are, or one line saying what to install."""

from __future__ import annotations

import shutil
from pathlib import Path


def postfix_tool(name: str) -> str:
    """The path of Postfix's `name` (`smtp-sink`, `smtp-source`); exits with one line
    naming the package to install when it is not there."""
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        raise SystemExit(
            f"{name} not found: the delivery benchmarks need Postfix's smtp-sink and "
            "smtp-source (Debian/Ubuntu: apt-get install postfix; Fedora: dnf install postfix)"
        )
    return found
