"""Each source kind turns real-shaped responses into clean records (no network here)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from digest.sources.arxiv_api import api_query, parse_api_page
from digest.sources.arxiv_rss import parse_listing
from digest.sources.hf_daily import daily_requests, parse_daily_papers
from digest.sources.rss import parse_feed
from tests.sources.conftest import fixture_bytes

ATOM = "raw/arxiv_rss_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
API = "raw/arxiv_api_query_transformer_cs.LG_2026-06-14_sotawhat.xml"
HF = "raw/hf_api_daily_papers_2026-06-12_sotawhat.json"


def test_real_arxiv_atom_listing(shared_data: Path) -> None:
    parsed = parse_listing((shared_data / ATOM).read_text(), source="arxiv-ai")
    assert parsed.error is None
    assert parsed.skipped == 0
    by_key = {e.key: e for e in parsed.entries}
    assert len(by_key) == 7
    align = by_key["2508.13426"]
    assert align.version == 1
    assert align.announce_type == "cross"
    assert align.categories == ("cs.CL", "cs.AI")
    assert align.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert align.abstract.startswith("As large language models (LLMs) increasingly")
    assert "Announce Type" not in align.abstract
    assert align.announced_on == date(2025, 8, 20)
    assert by_key["2508.13429"].authors == ("Paulo André Lima de Castro",)
    assert sum(e.announce_type == "new" for e in parsed.entries) == 2


def test_arxiv_rss2_listing_with_doi_journal_ref_and_replacements() -> None:
    parsed = parse_listing(fixture_bytes("arxiv_rss2_cs.CL.xml").decode(), source="cl")
    by_key = {e.key: e for e in parsed.entries}
    assert set(by_key) == {"2508.20001", "2508.20002", "2508.13426", "2401.01234", "2508.20003"}
    replaced = by_key["2508.13426"]
    assert (replaced.version, replaced.announce_type) == (2, "replace")
    assert replaced.doi == "10.18653/v1/2025.emnlp-main.101"
    assert replaced.journal_ref == "Proceedings of EMNLP 2025, pp. 1201-1215"
    assert replaced.announced_on is None
    assert by_key["2401.01234"].doi == "10.1162/coli_a_00500"
    assert by_key["2401.01234"].announce_type == "replace-cross"
    assert by_key["2508.20002"].authors == ("Kurt Gödel", "Emmy Noether", "José Martí")
    assert by_key["2508.20002"].primary_category == "cs.IR"
    assert "$k<8$" in by_key["2508.20001"].abstract
    assert by_key["2508.20001"].pdf_url == "https://arxiv.org/pdf/2508.20001"


def test_markup_in_titles_and_abstracts_is_stored_as_plain_text() -> None:
    parsed = parse_listing(fixture_bytes("arxiv_rss2_cs.CL.xml").decode(), source="cl")
    entry = next(e for e in parsed.entries if e.key == "2508.20003")
    assert entry.title == "Prompt Injection Attacks on Tool-Using Agents"
    assert "<" not in entry.title
    assert "alert" not in entry.title
    assert "<img" not in entry.abstract
    assert "$p<0.05$ & worse" in entry.abstract


def test_weekend_listing_is_empty_not_an_error() -> None:
    parsed = parse_listing(fixture_bytes("arxiv_rss2_empty_weekend.xml").decode(), source="cl")
    assert (parsed.entries, parsed.error, parsed.skipped) == ([], None, 0)


def test_legacy_rss1_listing() -> None:
    parsed = parse_listing(fixture_bytes("arxiv_rss1_legacy_cs.CL.xml").decode(), source="cl")
    assert parsed.error is None
    musr, qlora = parsed.entries
    assert musr.key == "2310.16049"
    assert musr.announce_type == "new"
    assert (
        musr.title == "MuSR: Testing the Limits of Chain-of-thought with Multistep Soft Reasoning."
    )
    assert musr.authors == ("Zayne Sprague", "Xi Ye", "Greg Durrett")
    assert musr.abstract.startswith("While large language models")
    assert musr.categories == ("cs.CL",)
    assert (qlora.key, qlora.version, qlora.announce_type) == ("2305.14314", 2, "replace")


def test_truncated_listing_keeps_complete_entries() -> None:
    body = fixture_bytes("arxiv_rss2_cs.CL.xml").decode()
    cut = body[: body.index("oai:arXiv.org:2401.01234v3")]
    parsed = parse_listing(cut, source="cl")
    assert [e.key for e in parsed.entries] == ["2508.20001", "2508.20002", "2508.13426"]
    assert parsed.error is not None
    assert "malformed XML" in parsed.error


def test_html_and_json_where_a_listing_was_expected() -> None:
    html = parse_listing(fixture_bytes("not_a_feed.html").decode(), source="cl")
    assert html.entries == []
    assert html.error is not None
    assert "HTML page" in html.error
    other = parse_listing('<?xml version="1.0"?><error>quota</error>', source="cl")
    assert other.error is not None
    assert "<error>" in other.error
    garbage = parse_listing('{"error": "nope"}', source="cl")
    assert garbage.error is not None
    assert "malformed XML" in garbage.error


def test_real_arxiv_api_page(shared_data: Path) -> None:
    parsed = parse_api_page((shared_data / API).read_text(), source="api")
    assert parsed.error is None
    assert parsed.total == 28946
    mana = parsed.entries[0]
    assert (mana.key, mana.version, mana.primary_category) == ("2606.13677", 1, "cs.RO")
    assert mana.categories == ("cs.RO", "cs.AI", "cs.CV", "cs.LG")
    assert mana.comment == "Project Page: https://zhaohengyin.github.io/mana"
    assert mana.authors[:2] == ("Zhao-Heng Yin", "Guanya Shi")
    assert mana.abstract.startswith("Articulated tool manipulation")
    assert "(<1 minute per tool)" in mana.abstract


def test_arxiv_api_error_answer() -> None:
    parsed = parse_api_page(fixture_bytes("arxiv_api_error.xml").decode(), source="api")
    assert parsed.entries == []
    assert parsed.error == "the arXiv API rejected the query: incorrect id format for 1234.12345"


def test_arxiv_api_query_paging() -> None:
    query = api_query(
        "https://export.arxiv.org/api/query?search_query=cat:cs.LG&sortBy=submittedDate"
        "&max_results=250&start=40"
    )
    assert query.base_url == "https://export.arxiv.org/api/query"
    assert query.page(0) == {
        "search_query": "cat:cs.LG",
        "sortBy": "submittedDate",
        "start": "0",
        "max_results": "100",
    }
    assert query.page(200)["max_results"] == "50"


def test_real_hf_daily_papers(shared_data: Path) -> None:
    parsed = parse_daily_papers((shared_data / HF).read_text(), source="hf")
    assert parsed.error is None
    assert len(parsed.entries) == 30
    msa = next(e for e in parsed.entries if e.key == "2606.13392")
    assert msa.upvotes == 103
    assert msa.stars == 251
    assert msa.code_url == "https://github.com/MiniMax-AI/MSA"
    assert msa.featured_on == date(2026, 6, 12)
    assert msa.hf_url == "https://huggingface.co/papers/2606.13392"
    assert "sparse attention" in msa.keywords
    assert msa.ai_summary is not None
    assert msa.ai_summary.startswith("MiniMax Sparse Attention enables efficient processing")
    assert all(e.ai_summary for e in parsed.entries)  # every paper of that day has one
    assert msa.version is None
    with_page = next(e for e in parsed.entries if e.key == "2606.10423")
    assert with_page.project_url == "https://jayoohwang1.github.io/webchallenger-site/"


def test_hf_error_body_and_truncated_json(shared_data: Path) -> None:
    error = parse_daily_papers(fixture_bytes("hf_error.json").decode(), source="hf")
    assert error.entries == []
    assert (
        error.error
        == 'Hugging Face answered with an error: "date" must be a valid date in format YYYY-MM-DD'
    )
    text = (shared_data / HF).read_text()
    cut = parse_daily_papers(text[: len(text) // 2], source="hf")
    assert 0 < len(cut.entries) < 30
    assert cut.error is not None
    assert "malformed JSON" in cut.error


def test_hf_requests_today_and_yesterday_unless_pinned() -> None:
    days = daily_requests("https://huggingface.co/api/daily_papers", date(2026, 6, 12))
    assert [p["date"] for _, p in days] == ["2026-06-12", "2026-06-11"]
    pinned = daily_requests("https://huggingface.co/api/daily_papers?date=2026-01-02", date.today())
    assert [p["date"] for _, p in pinned] == ["2026-01-02"]


def test_biorxiv_rss1_keys_by_doi() -> None:
    parsed = parse_feed(fixture_bytes("biorxiv_rss1.xml"), source="biorxiv")
    assert parsed.error is None
    first, second = parsed.entries
    assert first.key == "doi:10.1101/2025.08.18.670001"
    assert first.title == "Protein language models predict variant effects in E. coli"
    assert "track()" not in first.abstract
    assert "deep mutational scans and show" in first.abstract
    assert second.key == "doi:10.1101/2025.08.18.670002"


def test_generic_atom_with_html_and_an_unusable_entry() -> None:
    parsed = parse_feed(fixture_bytes("blog_atom_html.xml"), source="blog")
    assert parsed.skipped == 1
    post, arxiv_note = parsed.entries
    assert post.title == "Scaling laws revisited"
    assert post.key == "url:https://lab.example.org/posts/scaling-laws"
    assert post.abstract == "We re-fit scaling laws with new data."
    assert post.authors == ("Jane Researcher",)
    assert arxiv_note.key == "2508.20001"


def test_generic_feed_wrong_encoding_and_garbage() -> None:
    latin = fixture_bytes("blog_atom_html.xml").replace(b"Jane", "Jösé".encode("latin-1"))
    parsed = parse_feed(latin, source="blog")
    assert parsed.entries[0].authors == ("Jösé Researcher",)
    garbage = parse_feed(b"\x00\x01 not xml at all", source="blog")
    assert garbage.entries == []
    assert garbage.error is not None
