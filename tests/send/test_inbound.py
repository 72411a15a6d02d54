"""The inbound listener over real SMTP: bounces, mailto unsubscribes, subscribe-by-email."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import aiosmtplib
import pytest
from sqlalchemy import Engine, select

from digest.config import Settings, load_settings
from digest.records import Subscriber
from digest.render.links import LinkMaker
from digest.send.inbound import InboundListener
from digest.store.engine import transaction
from digest.store.schema import EventRow
from digest.store.subscribers import get_subscriber
from digest.store.suppressions import is_suppressed
from tests.send.scenario import add_subscribers
from tests.send.smtpd import free_port
from tests.test_tokens import serialized_token

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def dsn(action: str, status: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        "To: bounces@example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "\r\n--B--\r\n"
    ).encode()


@pytest.fixture
def inbound_settings(settings: Settings) -> Settings:
    data = settings.model_dump(exclude={"config_file"})
    data["inbound"] = {"host": "127.0.0.1", "port": free_port()}
    data["mail"] = data["mail"] | {"subscribe_address": "join@example.org"}
    return load_settings(**data)


@pytest.fixture
def subscribed(engine: Engine) -> list[str]:
    return add_subscribers(engine, 2, now=NOW)


class Calls:
    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []

    async def __call__(self, mail_from: str, data: bytes) -> str:
        self.received.append((mail_from, data))
        return "sent"


@pytest.fixture
def listener(inbound_settings: Settings, engine: Engine) -> Iterator[tuple[InboundListener, Calls]]:
    calls = Calls()
    listener = InboundListener(inbound_settings, engine, subscribe=calls)
    listener.start()
    yield listener, calls
    listener.stop()


def deliver(settings: Settings, to: str, data: bytes, mail_from: str = "") -> None:
    async def run() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=settings.inbound.port, start_tls=False)
        async with client:
            await client.sendmail(mail_from, [to], data)  # "" is the null sender <>

    asyncio.run(run())


def stored(engine: Engine, email: str) -> Subscriber:
    with transaction(engine) as session:
        return get_subscriber(session, email)


def test_a_hard_bounce_suppresses_the_address(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    verp = LinkMaker(inbound_settings).envelope_sender(stored(engine, subscribed[0]))
    deliver(inbound_settings, verp, dsn("failed", "5.1.1", subscribed[0]))
    with transaction(engine) as session:
        assert is_suppressed(session, subscribed[0])
        assert get_subscriber(session, subscribed[0]).status == "bounced"
        assert get_subscriber(session, subscribed[1]).status == "active"


def test_a_delay_notice_is_recorded_but_suppresses_nothing(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    verp = LinkMaker(inbound_settings).envelope_sender(stored(engine, subscribed[0]))
    deliver(inbound_settings, verp, dsn("delayed", "4.4.7", subscribed[0]))
    with transaction(engine) as session:
        assert not is_suppressed(session, subscribed[0])
        kinds = list(session.scalars(select(EventRow.kind).where(EventRow.email == subscribed[0])))
    assert "soft_bounce" in kinds


def test_mail_to_the_list_unsubscribe_address_unsubscribes(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    mailto = LinkMaker(inbound_settings).mailto_unsubscribe(stored(engine, subscribed[1]))
    deliver(inbound_settings, mailto, b"Subject: unsubscribe\r\n\r\nplease\r\n", subscribed[1])
    with transaction(engine) as session:
        assert get_subscriber(session, subscribed[1]).status == "unsubscribed"
        assert get_subscriber(session, subscribed[0]).status == "active"


def test_addresses_minted_by_the_serializer_keep_working(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    secret = inbound_settings.secret_key()
    bounced, leaving = stored(engine, subscribed[0]), stored(engine, subscribed[1])
    verp = f"bounces+{serialized_token(secret, 'bounce', bounced)}@example.org"
    deliver(inbound_settings, verp, dsn("failed", "5.1.1", subscribed[0]))
    mailto = f"unsubscribe+{serialized_token(secret, 'unsubscribe', leaving)}@example.org"
    deliver(inbound_settings, mailto, b"Subject: unsubscribe\r\n\r\nplease\r\n", subscribed[1])
    with transaction(engine) as session:
        assert is_suppressed(session, subscribed[0])
        assert get_subscriber(session, subscribed[0]).status == "bounced"
        assert get_subscriber(session, subscribed[1]).status == "unsubscribed"


def test_a_bounce_address_of_one_subscriber_acts_on_no_other(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    first, second = stored(engine, subscribed[0]), stored(engine, subscribed[1])
    verp = LinkMaker(inbound_settings).envelope_sender(first)
    token = verp.split("+", 1)[1].split("@")[0]
    assert token.startswith(f"{first.id}.")
    forged = f"bounces+{second.id}{token[len(str(first.id)) :]}@example.org"
    deliver(inbound_settings, forged, dsn("failed", "5.1.1", subscribed[1]))
    with transaction(engine) as session:
        assert not is_suppressed(session, subscribed[1])
        assert get_subscriber(session, subscribed[1]).status == "active"


@pytest.mark.parametrize(
    "address",
    [
        "postmaster@example.org",
        "bounces+forged.token.here@example.org",
        "unsubscribe@example.org",
        "someone@elsewhere.example",
    ],
)
def test_everything_else_is_refused_at_rcpt(
    inbound_settings: Settings, address: str, listener: object
) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        deliver(inbound_settings, address, b"Subject: hi\r\n\r\nhello\r\n")
    assert refused.value.recipients[0].code == 550


def test_a_bounce_token_for_another_purpose_acts_on_nobody(
    inbound_settings: Settings, engine: Engine, subscribed: list[str], listener: object
) -> None:
    links = LinkMaker(inbound_settings)
    unsubscribe_token = (
        links.mailto_unsubscribe(stored(engine, subscribed[0])).split("+", 1)[1].split("@")[0]
    )
    bounce = dsn("failed", "5.1.1", subscribed[0])
    deliver(inbound_settings, f"bounces+{unsubscribe_token}@example.org", bounce)
    with transaction(engine) as session:
        assert not is_suppressed(session, subscribed[0])
        assert get_subscriber(session, subscribed[0]).status == "active"


def test_subscribe_address_goes_to_the_handler(
    inbound_settings: Settings, listener: tuple[InboundListener, Calls]
) -> None:
    body = b"From: ada@example.net\r\nSubject: join\r\n\r\nspeculative decoding\r\n"
    deliver(inbound_settings, "join@example.org", body, "ada@example.net")
    assert listener[1].received == [("ada@example.net", body)]
