"""The whole subscriber journey in a real headless Chromium: fill the form, receive the
confirmation at a real SMTP server, open its link and confirm, then unsubscribe through the
email's link. Screenshots at 375 px and 1280 px go to $DIGEST_TEST_OUTPUT (default: a
directory under the system temp dir).

Needs the Debian `chromium` package; skipped without it unless DIGEST_REQUIRE_CHROMIUM=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.schema import SubscriberRow
from tests.web.conftest import Site

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("DIGEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = Path(
    os.environ.get("DIGEST_TEST_OUTPUT", Path(tempfile.gettempdir()) / "paper-digest-test-output")
)

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"Chromium not found at {CHROMIUM} (install the Debian package 'chromium')"
        if os.environ.get("DIGEST_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def seed_papers(site: Site) -> None:
    day = datetime(2026, 3, 2, 20, tzinfo=UTC)
    titles = [
        ("Speculative Decoding with Draft Trees", 87, "https://github.com/example/trees"),
        ("Sparse Mixture-of-Experts at the Edge", 41, None),
        ("Evaluating Tool Use in Language Agents", 12, "https://github.com/example/tools"),
        ("A Survey of Gaussian Splatting", None, None),
    ]
    entries = [
        FeedEntry(
            source="arxiv",
            key=f"2603.0000{n}",
            title=title,
            abstract=(
                "We present a method that improves throughput while keeping quality. "
                "Experiments on standard benchmarks show consistent gains over strong "
                "baselines, and we release code and models."
            ),
            authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
            categories=("cs.CL", "cs.LG"),
            abs_url=f"https://arxiv.org/abs/2603.0000{n}",
            pdf_url=f"https://arxiv.org/pdf/2603.0000{n}",
            code_url=code,
            upvotes=upvotes,
            published=day,
        )
        for n, (title, upvotes, code) in enumerate(titles, start=1)
    ]
    with transaction(site.engine) as session:
        ingest_entries(session, entries, now=day)


def status_of(site: Site, email: str) -> str:
    with transaction(site.engine) as session:
        status = session.scalar(select(SubscriberRow.status).where(SubscriberRow.email == email))
    return str(status)


def test_subscribe_confirm_and_unsubscribe_in_a_real_browser(site: Site, browser: Browser) -> None:
    seed_papers(site)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    phone = browser.new_context(
        viewport={"width": 375, "height": 812}, timezone_id="Asia/Tokyo", device_scale_factor=1
    )
    page = phone.new_page()
    page.goto(site.url + "/")
    assert page.input_value("#timezone") == "Asia/Tokyo"  # filled from the browser
    page.screenshot(path=str(OUTPUT / "front-375.png"), full_page=True)
    page.fill("#email", "grace@example.org")
    page.fill("#topics", "speculative decoding\nlanguage agents")
    page.fill("#send_at", "06:30")
    page.click("button[type=submit]:has-text('Subscribe')")
    page.wait_for_url("**/subscribed")
    assert "Check your inbox" in page.content()
    assert status_of(site, "grace@example.org") == "pending"

    page.goto(site.link_in_last_mail("grace@example.org", "confirm"))
    assert status_of(site, "grace@example.org") == "pending"  # opening the link is not enough
    page.screenshot(path=str(OUTPUT / "confirm-375.png"), full_page=True)
    page.click("text=Yes, start my digest")
    page.wait_for_selector("text=You are subscribed")
    assert status_of(site, "grace@example.org") == "active"
    with transaction(site.engine) as session:
        row = session.scalar(
            select(SubscriberRow).where(SubscriberRow.email == "grace@example.org")
        )
        assert row is not None
        assert (row.timezone, row.send_at) == ("Asia/Tokyo", "06:30")

    page.goto(site.link_in_last_mail("grace@example.org", "unsubscribe"))
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    assert status_of(site, "grace@example.org") == "unsubscribed"
    phone.close()

    desktop = browser.new_context(viewport={"width": 1280, "height": 900})
    wide = desktop.new_page()
    wide.goto(site.url + "/")
    wide.screenshot(path=str(OUTPUT / "front-1280.png"), full_page=True)
    errors: list[str] = []
    wide.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    wide.fill("#email", "not-an-address")
    wide.click("button[type=submit]:has-text('Subscribe')")
    wide.wait_for_selector("#email-error")
    wide.screenshot(path=str(OUTPUT / "form-error-1280.png"), full_page=True)
    # the 400 of the form page itself is expected; no CSP violations or script errors
    assert [e for e in errors if "status of 400" not in e] == []
    desktop.close()
    assert (OUTPUT / "front-375.png").stat().st_size > 10_000
    assert (OUTPUT / "front-1280.png").stat().st_size > 10_000
