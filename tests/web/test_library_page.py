"""The library on the preferences page: paste or upload papers you like, over real HTTP, with
the arXiv API on 127.0.0.1 answering from recorded responses; hostile files get one clear
message and a 4xx, never a 500. A real Chromium fills and uploads the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, select

from digest.config import Settings
from digest.render.links import LinkMaker
from digest.sources import http as source_http
from digest.store.engine import transaction
from digest.store.schema import FeedbackRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from tests.arxiv_api import ArxivApi
from tests.send.smtpd import FaultySmtpServer
from tests.web.conftest import TEST_LIMITS, Site, both_databases, serve_site
from tests.web.test_browser import browser  # noqa: F401  (the Chromium fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

BIBTEX = b"""@article{mana,
  title  = {Mana: Dexterous Manipulation of Articulated Tools},
  eprint = {2606.13677}, archivePrefix = {arXiv}
}
@article{legacy, title = {Old}, url = {https://arxiv.org/abs/hep-th/9901001}}
"""


@pytest.fixture(autouse=True)
def _fresh_arxiv_throttle() -> None:
    source_http.ARXIV_THROTTLE.reset()


@pytest.fixture
def site(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer, arxiv_api: ArxivApi
) -> Iterator[Site]:
    """The site, looking papers up in the arXiv API on 127.0.0.1."""
    library = settings.library.model_copy(update={"arxiv_api_url": arxiv_api.url})
    settings = settings.model_copy(update={"library": library})
    yield from serve_site(settings, engine, smtp_server, TEST_LIMITS)


def preferences_link(site: Site, topics: tuple[str, ...] = ()) -> str:
    with transaction(site.engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(email="ada@example.org", topics=topics, status="active").validate(),
            default_timezone="UTC",
            default_send_at="07:00",
        )
    return LinkMaker(site.settings).preferences(sub).removeprefix(site.url)


def post(site: Site, link: str, text: str = "", file: tuple[str, bytes] | None = None) -> str:
    token = site.csrf_token(link)
    files = {"file": (file[0], file[1], "application/octet-stream")} if file else None
    answer = site.client.post(
        f"{link}/library", data={"csrf_token": token, "papers": text}, files=files
    )
    return f"{answer.status_code} {answer.text}"


def likes(site: Site) -> int:
    with transaction(site.engine) as session:
        return len(session.scalars(select(FeedbackRow)).all())


@both_databases
def test_paste_and_upload_add_papers_and_say_what_was_not_found(
    site: Site, arxiv_api: ArxivApi
) -> None:
    link = preferences_link(site)  # no topics at all
    pasted = post(site, link, text="https://arxiv.org/abs/2606.13591v1\n10.1145/3065386\n")
    assert pasted.startswith("200 ")
    assert "1 paper added to your library, 1 fetched from arXiv" in pasted
    assert "Line 2: DOI 10.1145/3065386 is not a paper this digest knows" in pasted
    assert "Multiagent Protocols with Aggregated Confidence Signals" in pasted

    uploaded = post(site, link, file=("library.bib", BIBTEX))
    assert uploaded.startswith("200 ")
    assert "Line 5: arXiv has no paper hep-th/9901001" in uploaded
    assert "Your library has <strong>2</strong> papers" in uploaded
    assert "Mana: Dexterous Manipulation of Articulated Tools" in uploaded
    assert arxiv_api.asked == [["2606.13591"], ["2606.13677", "hep-th/9901001"]]
    assert likes(site) == 2


@pytest.mark.parametrize(
    ("file", "status", "message"),
    [
        (("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100), 400, "not a text file"),
        (("broken.bib", b"@article{x, title={" + b"{" * 300_000), 400, "no BibTeX entry"),
        (("big.txt", b"2401.00001\n" * 190_000), 400, "at most 2 MB"),
        (("huge.bib", b"%" * 3_000_000), 413, "too large"),
        (("empty.txt", b""), 400, "found no papers"),
    ],
)
def test_hostile_files_get_one_clear_message(
    site: Site, arxiv_api: ArxivApi, file: tuple[str, bytes], status: int, message: str
) -> None:
    link = preferences_link(site, topics=("robots",))
    answer = post(site, link, file=file)
    assert answer.startswith(f"{status} "), answer[:300]
    assert message.lower() in answer.lower()
    assert "Traceback" not in answer
    assert arxiv_api.requests == []
    assert likes(site) == 0


def test_the_form_needs_its_csrf_token_and_a_valid_link(site: Site) -> None:
    link = preferences_link(site)
    refused = site.client.post(f"{link}/library", data={"papers": "2606.13677"})
    assert refused.status_code == 403
    bad = site.client.post("/preferences/not-a-token/library", data={"papers": "2606.13677"})
    assert bad.status_code in (400, 404)
    nothing = post(site, link, text="  \n")
    assert nothing.startswith("400 ")
    assert "Paste arXiv ids or DOIs, or choose a file" in nothing
    assert likes(site) == 0


@pytest.mark.browser
def test_a_library_added_in_a_real_browser(
    site: Site,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    link = preferences_link(site)
    page = browser.new_page()
    page.goto(site.url + link)
    page.fill("#papers", "2606.13568")
    page.click("button:has-text('Add to my library')")
    assert "1 paper added to your library" in page.content()
    assert "Adjusted Cup-Product Neural Layer" in page.inner_text("ul.library")

    upload = tmp_path / "zotero.bib"
    upload.write_bytes(BIBTEX)
    page.set_input_files("#file", str(upload))
    page.click("button:has-text('Add to my library')")
    assert re.search(r"Line 5: arXiv has no paper hep-th/9901001", page.inner_text("#library"))
    assert "Mana: Dexterous Manipulation of Articulated Tools" in page.inner_text("ul.library")
    assert likes(site) == 2
