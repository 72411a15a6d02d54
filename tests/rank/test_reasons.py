"""Reasons claim only what is there, checked against the real development data.

Every topic of every development profile is worded against every paper of its day that
shares a word with it (thousands of reasons), and every pick of the quiet day is ranked with
the real sentence model: "matches 'X' in the title" must have every content word of X in the
title, a quoted word must be in the paper as quoted, a pick carried by meaning must say so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from digest.rank import PaperIndex, build_index, rank_profiles
from digest.rank.embed import Embedder
from digest.rank.explain import explain_topic, explain_words_only
from digest.rank.topics import compile_topic, coverage
from digest.rank.vectors import embed_run
from digest.records import Paper, Profile

QUIET_DAY = "2026-05-16"
WHERE = r"in the (?P<where>title and abstract|title|abstract)"
CLAIM = re.compile(rf"^matches '(?P<topic>.+)' {WHERE}$")
MEANING = re.compile(rf"^close in meaning to '(?P<topic>.+?)'(?:; (?P<words>.+) {WHERE})?$")
PARTLY = re.compile(rf"^partly matches '(?P<topic>.+?)': (?P<words>.+) {WHERE}$")


def profiles(shared_data: Path) -> list[dict[str, object]]:
    path = shared_data / "ranking" / "feed-dev2" / "profiles.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    first = shared_data / "ranking" / "feed-dev" / "profiles.jsonl"
    rows += [dict(json.loads(line), day="2026-06-02") for line in first.read_text().splitlines()]
    return rows


def day_papers(shared_data: Path, days: set[str]) -> dict[str, list[Paper]]:
    out: dict[str, list[Paper]] = {d: [] for d in days}
    corpus = shared_data / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["listing_date"] in out:
                categories = tuple(row["categories"])
                paper = Paper(row["id"], row["title"], row["abstract"], categories=categories)
                out[row["listing_date"]].append(paper)
    return out


def check(index: PaperIndex, paper: Paper, topic_text: str, reason: str) -> None:
    """Fail unless `reason` (for `topic_text`) is true of `paper`."""
    topic = compile_topic(index, topic_text)
    title, abstract = set(index.stems(paper.title)), set(index.stems(paper.abstract))
    if match := CLAIM.match(reason):
        assert match["topic"] == topic_text
        where = match["where"]
        have = title if where == "title" else title | abstract
        assert set(topic.stems) <= have, (reason, paper.title)
        if where == "abstract":
            assert not set(topic.stems) & title, (reason, paper.title)
        return
    match = MEANING.match(reason) or PARTLY.match(reason)
    assert match, reason
    assert not set(topic.stems) <= (title | abstract), ("a full match not called one", reason)
    if match["words"]:
        text = paper.title if match["where"] == "title" else paper.abstract
        words = " ".join(re.findall(r"[^\W_]+", text)).lower()
        for quoted in re.findall(r"'([^']+)'", match["words"]):
            assert f" {quoted.lower()} " in f" {words} ", (quoted, text)


@pytest.mark.slow
def test_every_word_reason_over_the_development_days(shared_data: Path) -> None:
    rows = profiles(shared_data)
    days = day_papers(shared_data, {str(r["day"]) for r in rows})
    checked = 0
    for day, papers in days.items():
        index = build_index(papers)
        topics = sorted({str(t) for r in rows if r["day"] == day for t in r["topics"]})  # type: ignore[attr-defined]
        compiled = [compile_topic(index, t) for t in topics]
        anywhere, _ = coverage(index, compiled)
        for row, topic in enumerate(compiled):
            for paper in np.flatnonzero(anywhere[row] > 0):
                check(index, papers[paper], topic.text, explain_topic(index, topic, int(paper)))
                worded = explain_words_only(index, topic, int(paper))
                if worded:
                    check(index, papers[paper], topic.text, worded)
                checked += 1
    assert checked > 10_000


@pytest.mark.slow
def test_every_pick_of_the_quiet_day_has_a_true_reason(
    shared_data: Path, embedder: Embedder
) -> None:
    rows = [r for r in profiles(shared_data) if r["day"] == QUIET_DAY]
    papers = day_papers(shared_data, {QUIET_DAY})[QUIET_DAY]
    wanted = [
        Profile(str(r["id"]), tuple(r["topics"]), exclude=tuple(r.get("exclude") or ()))  # type: ignore[arg-type]
        for r in rows
    ]
    day_vectors, vectors = embed_run(embedder, papers, wanted)
    index = build_index(papers, vectors=day_vectors)
    picked = rank_profiles(index, wanted, vectors=vectors)
    assert sum(map(len, picked)) > 5
    for profile, picks in zip(wanted, picked, strict=True):
        for pick in picks:
            assert pick.topic in profile.topics
            check(index, pick.paper, str(pick.topic), pick.reason)
