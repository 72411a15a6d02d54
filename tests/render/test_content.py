"""What a subscriber reads: subject, excerpts, authors, links, reasons, grouping, trending."""

from __future__ import annotations

import re
from dataclasses import replace

from digest.records import Digest, Paper
from digest.render import Renderer
from tests.render.conftest import make_digest, make_paper, parse, parts, read_html

TOKEN = re.compile(r"/[\w-]+\.[\w-]+\.[\w-]+")


def test_subject_tells_count_top_topics_and_date(renderer: Renderer) -> None:
    email = renderer.render_digest(make_digest(7))
    assert email.subject == (
        "Thu 14 May: 7 new papers on diffusion models, retrieval augmented generation"
        " and 1 more topic"
    )


def test_subject_for_a_single_topic_and_a_single_paper(renderer: Renderer) -> None:
    email = renderer.render_digest(make_digest(1, topics=("graph neural networks",)))
    assert email.subject == "Thu 14 May: 1 new paper on graph neural networks"


def test_empty_digest_says_so(renderer: Renderer) -> None:
    text, html = parts(parse(renderer.render_digest(make_digest(0)).data))
    assert "No new papers matched your topics today" in text
    assert "No new papers matched your topics today" in html


def test_excerpt_ends_on_a_sentence_boundary(renderer: Renderer) -> None:
    text, html = parts(parse(renderer.render_digest(make_digest(1)).data))
    for body in (text, " ".join(html.split())):
        assert "improves validity by 12% over strong baselines." in " ".join(body.split())
        assert "A fourth sentence" not in body


def test_long_author_lists_are_shortened(renderer: Renderer) -> None:
    authors = tuple(f"Author {n}" for n in range(500))
    digest = make_digest(1, paper=lambda n: make_paper(n, authors=authors))
    text, html = parts(parse(renderer.render_digest(digest).data))
    for body in (text, html):
        assert "Author 0, Author 1, Author 2 et al." in body
        assert "Author 3" not in body


def test_links_to_abstract_pdf_code_and_hugging_face(renderer: Renderer) -> None:
    def paper(n: int) -> Paper:
        return make_paper(
            n,
            code_url="https://github.com/lab/diffmol",
            stars=1234,
            hf_url="https://huggingface.co/papers/2605.10000",
            upvotes=42,
        )

    text, html = parts(parse(renderer.render_digest(make_digest(1, paper=paper)).data))
    words, anchors = read_html(html)
    assert (
        "https://arxiv.org/abs/2605.10000",
        "Paper number 0 on guided diffusion for molecules",
    ) in anchors
    assert ("https://arxiv.org/pdf/2605.10000", "PDF") in anchors
    assert ("https://github.com/lab/diffmol", "Code") in anchors
    assert ("https://huggingface.co/papers/2605.10000", "Hugging Face") in anchors
    assert "Code ★ 1.2k" in words
    assert "Hugging Face ▲ 42" in words
    assert "Code (1.2k stars): https://github.com/lab/diffmol" in text
    assert "Hugging Face (42 upvotes): https://huggingface.co/papers/2605.10000" in text


def test_each_paper_says_why_it_was_picked(renderer: Renderer) -> None:
    text, html = parts(parse(renderer.render_digest(make_digest(2)).data))
    assert 'Why: Matches "diffusion models" in the title' in text
    assert 'Why this paper: Matches "diffusion models" in the title' in read_html(html)[0]


def test_papers_are_grouped_under_topics_when_several_topics_match(renderer: Renderer) -> None:
    text, html = parts(parse(renderer.render_digest(make_digest(6)).data))
    assert "== diffusion models ==" in text
    assert "== retrieval augmented generation ==" in text
    assert ">diffusion models</h2>" in html
    # Numbered in reading order, whatever the grouping.
    numbers = re.findall(r"(?m)^ *(\d+)\. ", text)
    assert numbers == ["1", "2", "3", "4", "5", "6"]


def test_no_topic_headings_for_a_single_topic(renderer: Renderer) -> None:
    text, html = parts(
        parse(renderer.render_digest(make_digest(5, topics=("diffusion models",))).data)
    )
    assert "==" not in text
    assert "<h2" not in html


def test_trending_section_lists_the_trending_papers_after_the_picks(renderer: Renderer) -> None:
    picked = make_digest(2)
    hot = make_paper(50, title="A very popular paper", upvotes=321)
    digest: Digest = replace(picked, trending=(hot,))
    text, html = parts(parse(renderer.render_digest(digest).data))
    assert "Trending today" in text
    words, _ = read_html(html)
    assert "Trending today A very popular paper ▲ 321 upvotes" in words
    assert "321 upvotes" in text


def test_latex_in_titles_reads_as_text(renderer: Renderer) -> None:
    title = r"An $O(n^2)$ bound for $\alpha$-divergences"
    digest = make_digest(1, paper=lambda n: make_paper(n, title=title))
    text, _ = parts(parse(renderer.render_digest(digest).data))
    assert "An O(n²) bound for α-divergences" in text


def test_plain_text_part_reads_at_72_columns(renderer: Renderer) -> None:
    text, _ = parts(parse(renderer.render_digest(make_digest(10)).data))
    long_lines = [line for line in text.splitlines() if len(line) > 72 and "://" not in line]
    assert long_lines == []


def test_previews_match_the_sent_parts(renderer: Renderer) -> None:
    digest = make_digest(3)
    text, _ = parts(parse(renderer.render_digest(digest).data))
    assert "Paper number 2" in renderer.digest_html(digest)
    preview = renderer.digest_text(digest)

    def masked(body: str) -> str:  # a link's token carries the second it was signed in
        return TOKEN.sub("/TOKEN", body.replace("\r\n", "\n").split("Manage your")[0])

    assert masked(preview) == masked(text)
