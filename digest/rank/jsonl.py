"""Papers and profiles from JSON lines (the `digest rank` file formats), and picks back.

Takes lines of text, not files, so it stays free of I/O. Every problem is a `UsageError`
that names the file, the line and the field, e.g.
"profiles.jsonl line 3: 'topics' must be a list of strings".

Papers:   {"id", "title", "abstract", "categories": [..], "authors": [..],
           "published"?, "upvotes"?, "stars"?}
Profiles: {"id", "topics": [..], "categories"?, "authors"?, "exclude"?,
           "liked"?: [paper objects], "disliked"?: [paper objects]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from digest.errors import UsageError
from digest.records import Paper, Pick, Profile


def parse_papers(lines: Iterable[str], *, source: str = "papers") -> list[Paper]:
    """One `Paper` per non-blank line."""
    return [_paper(obj, f"{source} line {n}") for n, obj in _objects(lines, source)]


def parse_profiles(lines: Iterable[str], *, source: str = "profiles") -> list[Profile]:
    """One `Profile` per non-blank line."""
    return [_profile(obj, f"{source} line {n}") for n, obj in _objects(lines, source)]


def picks_line(profile: Profile, picks: Sequence[Pick]) -> str:
    """The output line of one profile: ranked ids, scores and reasons."""
    return json.dumps(
        {
            "profile": profile.id,
            "ranked": [p.paper.id for p in picks],
            "scores": [p.score for p in picks],
            "reasons": [p.reason for p in picks],
        },
        ensure_ascii=False,
    )


def _objects(lines: Iterable[str], source: str) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{source} line {number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise UsageError(f"{source} line {number}: JSON nested too deeply") from None
        if not isinstance(obj, dict):
            raise UsageError(f"{source} line {number}: expected a JSON object")
        yield number, obj


def _paper(obj: dict[str, Any], where: str) -> Paper:
    return Paper(
        id=_text(obj, "id", where, required=True),
        title=_text(obj, "title", where, required=True),
        abstract=_text(obj, "abstract", where),
        categories=_strings(obj, "categories", where),
        authors=_strings(obj, "authors", where),
        published=_when(obj, "published", where),
        upvotes=_count(obj, "upvotes", where),
        stars=_count(obj, "stars", where),
    )


def _profile(obj: dict[str, Any], where: str) -> Profile:
    if "topics" not in obj:
        raise UsageError(f"{where}: missing field 'topics' (a list of phrases)")
    return Profile(
        id=_text(obj, "id", where, required=True),
        topics=_strings(obj, "topics", where),
        categories=_strings(obj, "categories", where),
        authors=_strings(obj, "authors", where),
        exclude=_strings(obj, "exclude", where),
        liked=_papers(obj, "liked", where),
        disliked=_papers(obj, "disliked", where),
    )


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise UsageError(f"{where}: missing field '{key}'")
        return ""
    if isinstance(value, int | float) and key == "id":
        return str(value)
    if not isinstance(value, str):
        raise UsageError(f"{where}: '{key}' must be a string")
    if key == "id" and not value.strip():
        raise UsageError(f"{where}: '{key}' must not be empty")
    return value


def _strings(obj: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _count(obj: dict[str, Any], key: str, where: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{where}: '{key}' must be a whole number")
    return value


def _when(obj: dict[str, Any], key: str, where: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{where}: '{key}' must be an ISO 8601 date or time") from None


def _papers(obj: dict[str, Any], key: str, where: str) -> tuple[Paper, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UsageError(f"{where}: '{key}' must be a list of paper objects")
    return tuple(_paper(v, f"{where}, {key}[{i}]") for i, v in enumerate(value))
