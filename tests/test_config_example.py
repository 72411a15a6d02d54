"""config.example.toml loads as it is and documents every configuration key."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from digest.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_example_loads_and_matches_defaults() -> None:
    settings = load_settings(EXAMPLE)
    defaults = load_settings()
    assert settings.smtp == defaults.smtp
    assert settings.digest == defaults.digest
    assert [s.name for s in settings.sources] == [s.name for s in defaults.sources]


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    section = ""
    documented: set[str] = set()
    for line in text.splitlines():
        if match := re.match(r"^\[\[?(\w+)\]\]?", line):
            section = match[1]
        elif match := re.match(r"^#?\s?(\w+) = ", line):
            documented.add(f"{section}.{match[1]}")
    expected = set()
    for name, field in Settings.model_fields.items():
        if field.exclude:
            continue
        model = field.annotation
        if name == "sources":
            from digest.config import SourceSettings

            model = SourceSettings
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        expected |= {f"{name}.{key}" for key in model.model_fields}
    assert expected - documented == set()
