"""Text shaping: excerpts, author lists, LaTeX, counts and the 72-column wrap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from digest.render.text import compact_count, excerpt, plain_math, short_authors, wrap


def test_excerpt_keeps_whole_sentences_within_the_limit() -> None:
    abstract = "First point. Second one, e.g. with an example. Third here. Fourth not."
    assert excerpt(abstract, sentences=3) == (
        "First point. Second one, e.g. with an example. Third here."
    )
    assert excerpt(abstract, sentences=3, limit=40) == "First point."


def test_a_huge_first_sentence_is_cut_at_a_word() -> None:
    cut = excerpt("word " * 200, limit=100)
    assert len(cut) <= 100
    assert cut.endswith("word…")


def test_authors_are_shortened_past_four() -> None:
    assert short_authors(["A", "B", "C", "D"]) == "A, B, C, D"
    assert short_authors(["A", "B", "C", "D", "E"]) == "A, B, C et al."
    assert short_authors(["Ada\r\nLovelace"]) == "Ada Lovelace"


def test_simple_latex_becomes_unicode_and_the_rest_is_left_alone() -> None:
    assert plain_math(r"$\alpha$-stable and $O(n^2)$") == "α-stable and O(n²)"
    assert plain_math(r"$\frac{a}{b}$ costs $5") == r"$\frac{a}{b}$ costs $5"


def test_counts_read_at_a_glance() -> None:
    assert [compact_count(n) for n in (950, 1234, 15_600, 2_340_000)] == [
        "950", "1.2k", "15k", "2.3M",
    ]  # fmt: skip


@given(st.text(max_size=2000), st.sampled_from(["", "  ", "    "]))
def test_wrap_never_exceeds_72_columns_except_for_urls(text: str, indent: str) -> None:
    wrapped = wrap(text, indent)
    for line in wrapped.split("\n"):
        assert len(line) <= 72 or "://" in line
    assert wrapped.split() == text.split() or "".join(wrapped.split()) == "".join(text.split())
