"""Weekly digests and the digest archive in a real headless Chromium: subscribe for a weekly
digest on the form, confirm, receive the digest at a real SMTP server, open its "View in
your browser" link, vote from the page, find the digest on the preferences page, switch to
daily and feed only, and finally see the archive answer 410 once the subscriber is erased.
"""

from __future__ import annotations

import asyncio
import email
import re
import threading
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from digest.pipeline.deliver import deliver_due
from digest.send.transport import SmtpTransport
from digest.store.engine import transaction
from digest.store.schema import FeedbackRow, SubscriberRow
from tests.web.conftest import Site
from tests.web.test_browser import OUTPUT, browser, seed_papers

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["browser"]  # the fixture, shared with the sign-up journey
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

TUESDAY_MORNING = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


def deliver(site: Site) -> None:
    """Deliver what is due (in a thread of its own: Playwright's loop runs in this one)."""

    async def run() -> None:
        transport = SmtpTransport(site.settings.smtp)
        try:
            await deliver_due(site.settings, site.engine, transport, now=TUESDAY_MORNING)
        finally:
            await transport.close()

    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join()


def last_mail(site: Site, address: str) -> EmailMessage:
    data = [r.data for r in site.smtp.received if r.rcpt_to == address][-1]
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def subscriber_row(site: Site, address: str) -> SubscriberRow | None:
    with transaction(site.engine) as session:
        return session.scalar(select(SubscriberRow).where(SubscriberRow.email == address))


def test_weekly_digest_archive_and_preferences_in_a_real_browser(
    site: Site, browser: Browser
) -> None:
    seed_papers(site)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.goto(site.url + "/")
    page.fill("#email", "ada@example.org")
    page.fill("#topics", "speculative decoding\nlanguage agents")
    page.fill("#send_at", "07:00")
    page.select_option("#frequency", "weekly")
    page.select_option("#weekday", "tue")
    page.click("button[type=submit]:has-text('Subscribe')")
    page.wait_for_url("**/subscribed")
    page.goto(site.link_in_last_mail("ada@example.org", "confirm"))
    page.click("text=Yes, start my digest")
    page.wait_for_selector("text=You are subscribed")
    row = subscriber_row(site, "ada@example.org")
    assert row is not None
    assert (row.frequency, row.weekday, row.timezone) == ("weekly", 1, "UTC")

    deliver(site)  # Tuesday, after 07:00 UTC: the weekly digest is due
    digest = last_mail(site, "ada@example.org")
    assert str(digest["Subject"]).startswith("Weekly digest, 24 Feb – 3 Mar: ")
    text = plain_text(digest)
    view = re.search(r"View in your browser: (\S+/archive/\S+/2026-03-03)", text)
    assert view, text
    html_part = digest.get_body(("html",))
    assert html_part is not None
    assert view[1] in str(html_part.get_content())  # the same link in both parts

    page.goto(view[1])
    heading = page.inner_text("h1")
    assert heading == "Your week in papers, 24 Feb – 3 Mar"
    shown = page.locator(".paper h3").all_inner_texts()
    assert "Speculative Decoding with Draft Trees" in shown
    for title in shown:  # every paper of the email, and its reason, is on the page
        assert title in text
    reasons = page.locator(".why").all_inner_texts()
    assert reasons
    assert all(
        reason.removeprefix("Why this paper: ") in " ".join(text.split()) for reason in reasons
    )
    page.screenshot(path=str(OUTPUT / "archive-1280.png"), full_page=True)
    page.click(".paper >> nth=0 >> a.vote[title='More like this']")
    page.wait_for_load_state()
    with transaction(site.engine) as session:
        assert session.scalar(select(FeedbackRow.vote)) == 1

    page.goto(site.link_in_last_mail("ada@example.org", "preferences"))
    listed = page.locator(".past-digests li").all_inner_texts()
    assert len(listed) == 1
    assert listed[0].startswith("Tuesday 3 March 2026")
    listed_link = page.locator(".past-digests a").get_attribute("href") or ""
    assert listed_link.endswith("/2026-03-03")
    assert site.client.get(listed_link).text.count('class="paper"') == len(shown)
    assert "/feed/" in (page.get_attribute("#feed-url", "href") or "")
    assert page.input_value("#frequency") == "weekly"
    page.select_option("#frequency", "daily")
    page.check("input[name=feed_only]")
    page.click("button:has-text('Save preferences')")
    page.wait_for_selector("text=Your preferences are saved.")
    row = subscriber_row(site, "ada@example.org")
    assert row is not None
    assert (row.frequency, row.weekday, row.feed_only) == ("daily", None, True)

    page.check("input[name=confirm]")
    page.click("button:has-text('Delete me')")
    page.wait_for_selector("text=Everything is deleted")
    assert subscriber_row(site, "ada@example.org") is None
    assert site.client.get(view[1]).status_code == 410
    assert site.client.get(view[1].rsplit("/", 1)[0]).status_code == 410
    context.close()
