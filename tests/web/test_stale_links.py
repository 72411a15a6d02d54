"""A link or VERP address made for one subscriber never acts on anyone else.

The attack, as a visitor would run it against the real web app and the real inbound
listener, on SQLite and PostgreSQL: sign up, confirm, keep every link and the VERP
address; then make the subscription go away (erase it, restore a backup taken before it,
or unsubscribe) and let another address, or the same one, sign up. Every kept link must
answer 410 with a page that names nobody, a bounce or an unsubscribe mailed to a kept
address must act on nobody, and the new subscriber must be exactly as they left themselves.
"""

from __future__ import annotations

import asyncio
import email
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import aiosmtplib
import pytest
from sqlalchemy import func, select

from digest.config import Settings, load_settings
from digest.records import Digest, FeedEntry, Paper, Pick, Subscriber
from digest.render import Renderer
from digest.send.inbound import InboundListener
from digest.store.engine import transaction
from digest.store.papers import ingest_entries, to_paper
from digest.store.schema import FeedbackRow, PaperRow
from digest.store.subscribers import get_subscriber
from digest.store.suppressions import is_suppressed
from tests.send.smtpd import free_port
from tests.web.conftest import Site, both_databases

ADA, BOB = "ada@example.org", "bob@example.org"
LINK = r"[A-Za-z0-9_.\-]+"


@dataclass(frozen=True)
class Kept:
    """Everything the first subscriber's emails gave them."""

    subscriber_id: int
    confirm: str
    preferences: str
    unsubscribe: str
    feedback: str
    verp: str
    mailto: str


@pytest.fixture
def inbound(site: Site) -> Iterator[Settings]:
    """The inbound mail listener, on the site's database, on a port of its own."""
    data = site.settings.model_dump(exclude={"config_file"})
    data["inbound"] = {"host": "127.0.0.1", "port": free_port()}
    settings = load_settings(**data)
    listener = InboundListener(settings, site.engine)
    listener.start()
    yield settings
    listener.stop()


def sign_up(site: Site, address: str, topics: str) -> str:
    """Sign up on the front page; the path of the confirm link the email brings."""
    form = {"email": address, "topics": topics, "csrf_token": site.csrf_token()}
    assert site.client.post("/subscribe", data=form).status_code == 303
    return path_of(site, site.link_in_last_mail(address, "confirm"))


def path_of(site: Site, url: str) -> str:
    assert url.startswith(site.url)
    return url[len(site.url) :]


def confirm(site: Site, link: str) -> None:
    assert site.client.get(link).status_code == 200
    answer = site.client.post(link, data={"csrf_token": site.csrf_token(link)})
    assert answer.status_code == 200
    assert "subscribed" in answer.text.lower()


def stored(site: Site, address: str) -> Subscriber:
    with transaction(site.engine) as session:
        return get_subscriber(session, address)


def a_paper(site: Site) -> Paper:
    with transaction(site.engine) as session:
        entry = FeedEntry(source="arxiv", key="2601.00001", title="Graphs", abstract="Graphs.")
        ingest_entries(session, [entry], now=datetime.now(UTC))
        row = session.scalar(select(PaperRow))
        assert row is not None
        return to_paper(row)


def subscribe_and_keep_everything(site: Site, address: str = ADA) -> Kept:
    """Sign up, confirm, and keep every link and address the emails carried."""
    confirm_link = sign_up(site, address, "graph neural networks")
    confirmation = site.smtp.received[-1]
    confirm(site, confirm_link)
    welcome = site.messages_to(address)[-1]
    sub = stored(site, address)
    digest = Digest(sub, date(2026, 6, 1), (Pick(a_paper(site), 1.0, "Matches graphs"),))
    rendered = email.message_from_bytes(Renderer(site.settings).render_digest(digest).data)
    feedback = re.search(rf"/feedback/{LINK}/\d+/up", rendered.as_string())
    mailto = re.search(r"mailto:([^?>]+)", str(welcome["List-Unsubscribe"]))
    assert feedback is not None
    assert mailto is not None
    return Kept(
        subscriber_id=sub.id,
        confirm=confirm_link,
        preferences=path_of(site, site.link_in_last_mail(address, "preferences")),
        unsubscribe=path_of(site, site.link_in_last_mail(address, "unsubscribe")),
        feedback=feedback[0],
        verp=confirmation.mail_from,
        mailto=mailto[1],
    )


def erase(site: Site, kept: Kept) -> None:
    form = {"csrf_token": site.csrf_token(kept.preferences), "confirm": "yes"}
    answer = site.client.post(f"{kept.preferences}/delete", data=form)
    assert "Everything is deleted" in answer.text


def mail(settings: Settings, to: str, data: bytes, mail_from: str = "") -> None:
    async def run() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=settings.inbound.port, start_tls=False)
        async with client:
            await client.sendmail(mail_from, [to], data)

    asyncio.run(run())


def hard_bounce(recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B--\r\n"
    ).encode()


def assert_kept_links_act_on_nobody(site: Site, inbound: Settings, kept: Kept) -> None:
    """Every kept link answers 410 with a page naming nobody; mail to every kept address
    is taken in and acted on for nobody (`assert_untouched` checks the new subscriber)."""
    token = site.csrf_token()
    answers = [
        site.client.get(kept.confirm),
        site.client.post(kept.confirm, data={"csrf_token": token}),
        site.client.get(kept.preferences),
        site.client.post(kept.preferences, data={"csrf_token": token, "topics": "mine now"}),
        site.client.get(f"{kept.preferences}/data.json"),
        site.client.post(f"{kept.preferences}/pause", data={"csrf_token": token}),
        site.client.post(
            f"{kept.preferences}/delete", data={"csrf_token": token, "confirm": "yes"}
        ),
        site.client.get(kept.unsubscribe),
        site.client.post(kept.unsubscribe, data={"List-Unsubscribe": "One-Click"}),
        site.client.get(kept.feedback),
        site.client.post(kept.feedback, data={"csrf_token": token, "vote": "down"}),
    ]
    for answer in answers:
        assert answer.status_code == 410, (answer.request.url.path, answer.status_code)
        assert "@" not in answer.text.split("<main", 1)[-1], answer.request.url.path
        assert "no longer" in answer.text
    for address in (kept.verp, kept.mailto):  # taken in, acted on for nobody
        mail(inbound, address, hard_bounce(BOB))


def assert_untouched(site: Site, address: str, topics: tuple[str, ...]) -> None:
    sub = stored(site, address)
    assert (sub.status, sub.topics) == ("active", topics)
    with transaction(site.engine) as session:
        assert not is_suppressed(session, address)
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0
    # and their own links work
    own = path_of(site, site.link_in_last_mail(address, "preferences"))
    assert address in site.client.get(own).text


@both_databases
def test_an_erased_subscribers_links_never_reach_the_next_subscriber(
    site: Site, inbound: Settings
) -> None:
    kept = subscribe_and_keep_everything(site)
    erase(site, kept)
    confirm(site, sign_up(site, BOB, "protein folding"))
    assert stored(site, BOB).id > kept.subscriber_id  # ids only grow
    assert_kept_links_act_on_nobody(site, inbound, kept)
    assert_untouched(site, BOB, ("protein folding",))


@both_databases
def test_an_erased_subscribers_links_never_reach_the_same_address_signed_up_anew(
    site: Site, inbound: Settings
) -> None:
    kept = subscribe_and_keep_everything(site)
    erase(site, kept)
    fresh_confirm = sign_up(site, ADA, "protein folding")
    # the old confirm link must not confirm the new sign-up without its owner's consent
    assert site.client.post(kept.confirm, data={"csrf_token": site.csrf_token()}).status_code == 410
    assert stored(site, ADA).status == "pending"
    confirm(site, fresh_confirm)
    assert_kept_links_act_on_nobody(site, inbound, kept)
    assert_untouched(site, ADA, ("protein folding",))


@both_databases
def test_links_never_reach_a_subscriber_who_gets_the_same_id_after_a_restore(
    site: Site, inbound: Settings, backup: Callable[[], Callable[[], None]]
) -> None:
    restore = backup()  # taken before the first subscriber signs up
    kept = subscribe_and_keep_everything(site)
    restore()
    confirm(site, sign_up(site, BOB, "protein folding"))
    assert stored(site, BOB).id == kept.subscriber_id  # the restored sequence hands it out again
    assert_kept_links_act_on_nobody(site, inbound, kept)
    assert_untouched(site, BOB, ("protein folding",))


@both_databases
def test_links_of_an_ended_subscription_never_reach_the_address_signed_up_again(
    site: Site, inbound: Settings
) -> None:
    kept = subscribe_and_keep_everything(site)
    site.client.post(kept.unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert stored(site, ADA).status == "unsubscribed"
    confirm(site, sign_up(site, ADA, "protein folding"))
    assert stored(site, ADA).id == kept.subscriber_id  # the same row, a new subscription
    assert_kept_links_act_on_nobody(site, inbound, kept)
    assert_untouched(site, ADA, ("protein folding",))


@pytest.fixture
def backup(site: Site, db_url: str, tmp_path: object) -> Callable[[], Callable[[], None]]:
    """`backup()` copies the live database with the back end's own tool; calling what it
    returns restores that copy over the live database."""

    def take() -> Callable[[], None]:
        if db_url.startswith("sqlite"):
            return _sqlite_backup(db_url.split("///", 1)[1], site)
        return _pg_backup(db_url, site)

    return take


def _sqlite_backup(path: str, site: Site) -> Callable[[], None]:
    copy = sqlite3.connect(":memory:")
    with sqlite3.connect(path) as live:
        live.backup(copy)

    def restore() -> None:
        site.engine.dispose()
        with sqlite3.connect(path) as live:
            copy.backup(live)
        copy.close()

    return restore


def _pg_backup(url: str, site: Site) -> Callable[[], None]:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    dump = subprocess.run(["pg_dump", "-Fc", "-d", plain], check=True, capture_output=True)

    def restore() -> None:
        site.engine.dispose()
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--single-transaction", "-d", plain],
            input=dump.stdout,
            check=True,
            capture_output=True,
        )

    return restore
