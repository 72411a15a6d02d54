"""Where bundled files live: templates and migrations.

In a wheel they are packed inside the package (`digest/_bundled/…`); in a source checkout
or an editable install they sit at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The directory `name` (`templates` or `alembic`), installed or from the checkout."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the bundled '{name}' directory; reinstall the package")
