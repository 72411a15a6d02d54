"""The exception tree drawn in `digest.errors` is the whole tree: every exception class the
package defines is in it, under its real base class, naming the module that defines it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import digest
from digest import errors

NODE = re.compile(
    r"^(?P<rails>(?:[│ ]   )*)(?:[├└]── )?(?P<name>\w+)(?:\s+\((?P<module>[\w.]+)\))?"
)


def drawn_tree() -> dict[str, tuple[str | None, str | None]]:
    """Each class drawn in the docstring: (its parent in the drawing, the module it names)."""
    drawn: dict[str, tuple[str | None, str | None]] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = NODE.match(line)
        if match is None or not ("── " in line or line.split()[0] in ("DigestError", "Exception")):
            continue
        depth = len(match["rails"]) // 4 + (1 if "── " in line else 0)
        path[depth:] = [match["name"]]
        drawn[match["name"]] = (path[depth - 1] if depth else None, match["module"])
    return drawn


def project_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(digest.__path__, "digest."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("digest."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_exception_is_drawn_under_its_base_naming_its_module() -> None:
    drawn = drawn_tree()
    classes = project_exceptions()
    assert len(classes) >= 15
    for cls in classes:
        assert cls.__name__ in drawn, f"{cls.__module__}.{cls.__name__} is not in the tree"
        parent, module = drawn[cls.__name__]
        assert (parent or "Exception") == cls.__bases__[0].__name__, cls.__name__
        where = cls.__module__.removeprefix("digest.")
        assert module == (None if where == "errors" else where), cls.__name__


def test_the_tree_draws_nothing_that_does_not_exist() -> None:
    names = {cls.__name__ for cls in project_exceptions()} | {"Exception"}
    assert set(drawn_tree()) == names
