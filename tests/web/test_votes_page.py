"""The preferences page's "Learned from your votes" section and its "Forget my votes" form,
against the real app (uvicorn, real database, the real sentence model's vectors)."""

from __future__ import annotations

import re
from html import unescape

import httpx

from digest.rank.embed import Embedder
from digest.store.engine import transaction
from digest.store.feedback import vote_counts
from digest.store.library import library_of, like_from_library
from digest.tokens import make_token
from tests.votes import NOW, PAPERS, add_reader, store_papers, vote
from tests.web.conftest import Site, both_databases
from tests.web.test_links import SECRET, stored


def preferences(site: Site, subscriber_id: int) -> str:
    return "/preferences/" + make_token(SECRET, "preferences", stored(site, subscriber_id))


def section(html: str) -> str:
    match = re.search(r'<section class="card" id="votes">(.*?)</section>', html, re.S)
    assert match, "the page has no votes section"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match[1])).split())


def links(html: str, part: str) -> list[tuple[str, str]]:
    match = re.search(rf'<div class="learned" id="{part}">(.*?)</div>', html, re.S)
    assert match, f"no {part} list"
    return [
        (href, unescape(title))
        for href, title in re.findall(r'<a href="([^"]+)">([^<]+)</a>', match[1])
    ]


def forget(site: Site, page: str, **form: str) -> httpx.Response:
    data = {"csrf_token": site.csrf_token(page)} | form
    return site.client.post(page + "/votes/forget", data=data)


def test_below_the_threshold_the_page_counts_the_votes(site: Site, embedder: Embedder) -> None:
    ids = store_papers(site.engine, embedder, now=NOW)
    ada = add_reader(site.engine, "ada@example.org")
    page = preferences(site, ada)
    none = site.client.get(page).text
    assert "You have not voted yet" in section(none)
    assert "Forget my votes" not in none

    vote(site.engine, ada, ids["2605.00001"], 1)
    one = section(site.client.get(page).text)
    assert "You have voted on 1 paper so far (1 👍, 0 👎)" in one
    assert "From 2 votes on, the digest learns from them" in one
    assert "each 👍 brings more papers like that one, and each 👎 fewer" in one
    assert "Forget my votes" in one


@both_databases
def test_learned_titles_link_to_the_papers_and_forgetting_resets_them(
    site: Site, embedder: Embedder
) -> None:
    ids = store_papers(site.engine, embedder)
    ada = add_reader(site.engine, "ada@example.org")
    bob = add_reader(site.engine, "bob@example.org")
    for key, value in (("2605.00001", 1), ("2605.00003", -1), ("2605.00004", -1)):
        vote(site.engine, ada, ids[key], value)
    vote(site.engine, bob, ids["2605.00003"], -1)
    with transaction(site.engine) as session:
        like_from_library(session, ada, [ids["2605.00005"]], now=NOW)
    page = preferences(site, ada)

    html = site.client.get(page).text
    assert "From your 3 votes (1 👍, 2 👎), your digest has learned" in section(html)
    assert links(html, "more-like") == [
        ("https://arxiv.org/abs/2605.00001", PAPERS["2605.00001"][0])
    ]
    assert sorted(links(html, "less-like")) == [
        ("https://arxiv.org/abs/2605.00003", PAPERS["2605.00003"][0]),
        ("https://arxiv.org/abs/2605.00004", PAPERS["2605.00004"][0]),
    ]

    done = forget(site, page)
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?done=forgotten"
    after = site.client.get(done.headers["location"]).text
    assert "Your votes are forgotten" in after
    assert "You have not voted yet" in section(after)
    assert 'id="more-like"' not in after
    with transaction(site.engine) as session:
        assert vote_counts(session, ada) == (0, 0)
        assert vote_counts(session, bob) == (0, 1)  # nobody else's
        assert library_of(session, ada)[0] == 1  # the library stays
    assert stored(site, ada).topics == ("image generation",)  # and the topics


def test_forget_refuses_bad_links_and_forms_without_a_500(site: Site) -> None:
    ada = add_reader(site.engine, "ada@example.org")
    page = preferences(site, ada)
    token = site.csrf_token(page)
    bad = site.client.post("/preferences/not-a-token/votes/forget", data={"csrf_token": token})
    assert bad.status_code == 400
    assert "This link is not valid" in bad.text
    truncated = site.client.post(page[:-6] + "/votes/forget", data={"csrf_token": token})
    assert truncated.status_code == 400
    no_csrf = site.client.post(page + "/votes/forget", data={})
    assert no_csrf.status_code == 403
    assert "Please try again" in no_csrf.text
    forged = site.client.post(page + "/votes/forget", data={"csrf_token": token + "x"})
    assert forged.status_code == 403
    assert site.client.get(page + "/votes/forget").status_code == 405

    erased = site.client.post(page + "/delete", data={"csrf_token": token, "confirm": "yes"})
    assert "Everything is deleted" in erased.text
    stale = site.client.post(page + "/votes/forget", data={"csrf_token": token})
    assert stale.status_code == 410
    assert "This link no longer works" in stale.text
    assert "ada@example.org" not in stale.text
