"""Subscribing by email: topics from the body lines, the same double opt-in as the form."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, select

from digest.config import Settings
from digest.errors import MailRequestRefused
from digest.rank.embed import Embedder
from digest.send.inbound import InboundListener
from digest.send.transport import SmtpTransport
from digest.store.engine import transaction
from digest.store.schema import SubscriberRow
from digest.store.subscribers import SubscriberInput
from digest.web.mail_signup import SubscribeByEmail, signup_from_message
from tests.conftest import assert_topics_embedded
from tests.send.smtpd import FaultySmtpServer, free_port
from tests.web.conftest import both_databases


def message(body: str, *, sender: str = "Ada <Ada@Example.org>", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "subscribe@example.org"
    msg["Subject"] = headers.pop("Subject", "subscribe")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def parse(data: bytes, mail_from: str = "ada@example.org") -> SubscriberInput | None:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return signup_from_message(parsed, mail_from)


def test_body_lines_become_topics_and_keyed_lines_settings() -> None:
    body = (
        "Hi\n\n- speculative decoding\n* mixture of experts\n"
        "category: cs.CL, cs.LG\nauthor: Tri Dao\nexclude: survey\n"
        "timezone: Europe/Berlin\nsend at: 06:30\n\n"
        "> quoted old mail\n-- \nAda Lovelace\nAnalytical Engines Ltd\n"
    )
    request = parse(message(body))
    assert request is not None
    assert request.email == "Ada@Example.org"  # normalised by the opt-in itself
    assert request.topics == ("speculative decoding", "mixture of experts")
    assert request.categories == ("cs.CL", "cs.LG")
    assert request.authors == ("Tri Dao",)
    assert request.exclude == ("survey",)
    assert (request.timezone, request.send_at) == ("Europe/Berlin", "06:30")


def test_frequency_and_weekday_lines_ask_for_a_weekly_digest() -> None:
    weekly = parse(message("graph neural networks\nfrequency: Weekly\nweekday: monday\n"))
    assert weekly is not None
    assert (weekly.frequency, weekly.weekday) == ("weekly", "mon")
    on_a_day = parse(message("graph neural networks\nweekday: thu\n"))
    assert on_a_day is not None
    assert (on_a_day.frequency, on_a_day.weekday) == ("weekly", "thu")
    with pytest.raises(MailRequestRefused, match="neither daily nor weekly"):
        parse(message("graph neural networks\nfrequency: hourly\n"))
    with pytest.raises(MailRequestRefused, match="no day of the week"):
        parse(message("graph neural networks\nweekday: someday\n"))


def test_subject_is_the_topic_when_the_body_is_empty() -> None:
    request = parse(message("\n", Subject="Graph neural networks"))
    assert request is not None
    assert request.topics == ("Graph neural networks",)
    assert request.timezone is None


@pytest.mark.parametrize(
    "line",
    [
        "timezone: Nowhere/Land",
        "timezone: Europe",
        "time zone: America",
        "timezone: " + "x" * 300,
        "send at: 25:00",
        "timezone: ../../etc/passwd",
    ],
)
def test_a_setting_that_is_not_one_refuses_the_request(line: str) -> None:
    with pytest.raises(MailRequestRefused) as refused:
        parse(message(f"graph neural networks\n{line}\n"))
    reply = str(refused.value)
    assert reply.isascii()
    assert reply.isprintable()
    assert reply.startswith("Not subscribed: ")
    assert "/" not in reply.replace("Europe/Berlin", "")


def test_time_zone_names_are_taken_in_any_letter_case() -> None:
    request = parse(message("graph neural networks\ntimezone: europe/berlin\n"))
    assert request is not None
    assert request.timezone == "Europe/Berlin"


def test_automatic_and_empty_mail_asks_for_nothing() -> None:
    assert parse(message("topic", Auto_Submitted="auto-replied")) is None
    assert parse(message("topic", Precedence="bulk")) is None
    assert parse(message("topic", sender="MAILER-DAEMON@example.org")) is None
    assert parse(message("hello\n", Subject="hello")) is None


def test_a_plain_subscribe_asks_for_a_subscription_without_topics() -> None:
    """Topics are optional: papers the subscriber likes can be added on the preferences page."""
    request = parse(message("subscribe\n"))
    assert request is not None
    assert request.topics == ()
    assert request.validate().topics == ()
    assert parse(message("a topic"), mail_from="") is None


@both_databases
def test_a_subscribe_mail_starts_the_double_opt_in(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer, embedder: Embedder
) -> None:
    smtp = settings.smtp.model_copy(
        update={"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
    )
    settings = settings.model_copy(update={"smtp": smtp})

    async def deliver(*mails: bytes) -> list[str]:
        transport = SmtpTransport(settings.smtp)
        handler = SubscribeByEmail(settings, engine, transport)
        try:
            return [await handler("ada@example.org", mail) for mail in mails]
        finally:
            await transport.close()

    outcomes = asyncio.run(
        deliver(
            message("diffusion models\nauthor: Jonathan Ho\nfrequency: weekly\nweekday: Friday\n"),
            message("x" * 300 + "\n", sender="not an address", Subject="hello"),
            message("", sender="bob@localhost", Subject="topic"),
        )
    )
    assert outcomes == ["sent", "ignored", "invalid"]
    with transaction(engine) as session:
        (row,) = session.scalars(select(SubscriberRow)).all()
    assert (row.email, row.status, row.topics) == (
        "ada@example.org",
        "pending",
        ["diffusion models"],
    )
    assert row.authors == ["Jonathan Ho"]
    assert (row.frequency, row.weekday) == ("weekly", 4)
    (mail,) = smtp_server.received
    assert mail.rcpt_to == "ada@example.org"
    assert b"/confirm/" in mail.data
    assert_topics_embedded(engine, embedder, "diffusion models")


def test_mail_to_the_subscribe_address_through_the_inbound_listener(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer
) -> None:
    settings = settings.model_copy(
        update={
            "smtp": settings.smtp.model_copy(
                update={"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
            ),
            "mail": settings.mail.model_copy(update={"subscribe_address": "join@example.org"}),
            "inbound": settings.inbound.model_copy(
                update={"host": "127.0.0.1", "port": free_port()}
            ),
        }
    )

    async def run() -> None:
        transport = SmtpTransport(settings.smtp)
        listener = InboundListener(
            settings, engine, subscribe=SubscribeByEmail(settings, engine, transport)
        )
        listener.start()
        try:
            await asyncio.to_thread(send_to_listener)
        finally:
            listener.stop()
            await transport.close()

    def send_to_listener() -> None:
        with smtplib.SMTP(settings.inbound.host or "", settings.inbound.port) as client:
            client.sendmail(
                "ada@example.org", ["join@example.org"], message("graph transformers\n")
            )

    asyncio.run(run())
    (mail,) = smtp_server.received
    assert mail.rcpt_to == "ada@example.org"
    assert b"/confirm/" in mail.data


@pytest.mark.parametrize("zone", ["Europe", "America", "x" * 300, "Mars/Base"])
def test_the_listener_refuses_a_bad_time_zone_in_its_own_words(
    settings: Settings, engine: Engine, smtp_server: FaultySmtpServer, zone: str
) -> None:
    settings = settings.model_copy(
        update={
            "smtp": settings.smtp.model_copy(
                update={"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
            ),
            "mail": settings.mail.model_copy(update={"subscribe_address": "join@example.org"}),
            "inbound": settings.inbound.model_copy(
                update={"host": "127.0.0.1", "port": free_port()}
            ),
        }
    )
    replies: list[tuple[int, bytes]] = []

    def send_to_listener() -> None:
        with smtplib.SMTP(settings.inbound.host or "", settings.inbound.port) as client:
            client.ehlo()
            client.mail("ada@example.org")
            client.rcpt("join@example.org")
            replies.append(client.data(message(f"graph transformers\ntimezone: {zone}\n")))

    async def run() -> None:
        transport = SmtpTransport(settings.smtp)
        listener = InboundListener(
            settings, engine, subscribe=SubscribeByEmail(settings, engine, transport)
        )
        listener.start()
        try:
            await asyncio.to_thread(send_to_listener)
        finally:
            listener.stop()
            await transport.close()

    asyncio.run(run())
    ((code, text),) = replies
    assert code == 550
    assert text.decode() == (
        "5.6.0 Not subscribed: the timezone line names no IANA time zone; "
        "write one such as Europe/Berlin"
    )
    assert smtp_server.received == []
    with transaction(engine) as session:
        assert session.scalars(select(SubscriberRow)).all() == []
