"""The HTML part stays under 90 KB after inlining, even at the most items a digest allows."""

from __future__ import annotations

from pathlib import Path

from digest.config import DigestSettings
from digest.records import Paper
from digest.render import Renderer
from tests.render.conftest import make_digest, make_paper, make_settings

MAX_ITEMS = DigestSettings.model_fields["max_items"].metadata[1].le  # the config's upper bound
LIMIT = 90 * 1024


def bulky_paper(number: int) -> Paper:
    return make_paper(
        number,
        title="A deliberately long title about scaling laws for retrieval augmented generation "
        * 4,
        abstract=("This sentence is one of many in a long abstract about models. " * 40),
        authors=tuple(f"Author With A Long Name {n}" for n in range(60)),
        categories=("cs.LG", "cs.CL", "cs.AI", "stat.ML", "cs.IR"),
        code_url="https://github.com/some-organisation/some-long-repository-name",
        stars=12345,
        hf_url=f"https://huggingface.co/papers/2605.{10000 + number}",
        upvotes=99,
        project_url="https://some-organisation.github.io/some-long-project-page/",
    )


def test_typical_digest_is_small(tmp_path: Path) -> None:
    html = Renderer(make_settings(tmp_path)).digest_html(make_digest(10, paper=bulky_paper))
    assert len(html.encode()) < 40 * 1024


def test_html_under_90_kb_at_the_maximum_number_of_items(tmp_path: Path) -> None:
    assert MAX_ITEMS == 100
    renderer = Renderer(make_settings(tmp_path))
    digest = make_digest(MAX_ITEMS, paper=bulky_paper)
    html = renderer.digest_html(digest)

    assert len(html.encode()) < LIMIT
    assert html.count('class="paper"') + html.count('class="compact"') == MAX_ITEMS
    email = renderer.render_digest(digest)
    assert b"Content-Transfer-Encoding: 7bit" in email.data
