"""SpamAssassin (offline, `spamassassin -t -L`) scores our emails as clean: 0.5 or less.

Skipped when the `spamassassin` binary is missing, unless DIGEST_REQUIRE_TOOLS=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from digest.records import OutgoingEmail, Paper
from digest.render import Renderer
from tests.render.conftest import make_digest, make_subscriber

MAX_SCORE = 0.5


def spam_score(email: OutgoingEmail, home: Path) -> tuple[float, str]:
    binary = shutil.which("spamassassin")
    if binary is None:
        reason = "spamassassin is not installed (apt-get install spamassassin)"
        if os.environ.get("DIGEST_REQUIRE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    result = subprocess.run(
        [binary, "-t", "-L"],
        input=email.data,
        capture_output=True,
        env={**os.environ, "HOME": str(home)},
        timeout=120,
        check=False,
    )
    report = result.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.MULTILINE)
    assert match, f"no X-Spam-Status in spamassassin output: {result.stderr[-500:]!r}"
    return float(match[1]), report.split("Content analysis details")[-1]


def real_papers(shared_data: Path, count: int) -> list[Paper]:
    path = shared_data / "corpus" / "arxiv-daily-cs" / "papers.jsonl"
    papers = []
    with path.open(encoding="utf-8") as lines:
        for number, line in zip(range(count), lines, strict=False):
            row = json.loads(line)
            papers.append(
                Paper(
                    id=row["id"],
                    title=row["title"],
                    abstract=row["abstract"],
                    authors=tuple(row["authors"]),
                    categories=tuple(row["categories"]),
                    code_url=f"https://github.com/lab{number}/code" if number % 3 == 0 else None,
                    stars=250 + number if number % 3 == 0 else None,
                    hf_url=f"https://huggingface.co/papers/{row['id']}"
                    if number % 4 == 0
                    else None,
                    upvotes=10 + number if number % 4 == 0 else None,
                    db_id=number + 1,
                )
            )
    return papers


def test_realistic_digest_scores_clean(
    renderer: Renderer, shared_data: Path, tmp_path: Path
) -> None:
    papers = real_papers(shared_data, 14)
    digest = make_digest(10, paper=lambda n: papers[n], trending=tuple(papers[10:]))
    score, details = spam_score(renderer.render_digest(digest), tmp_path)
    assert score <= MAX_SCORE, details


def test_confirmation_email_scores_clean(renderer: Renderer, tmp_path: Path) -> None:
    email = renderer.render_confirmation(make_subscriber(status="pending"))
    score, details = spam_score(email, tmp_path)
    assert score <= MAX_SCORE, details
