"""Hostile mail to the real inbound listener over real SMTP on 127.0.0.1, on SQLite and
PostgreSQL: every message gets one of the service's own replies (never an exception's name or
a path), what it says is stored cleaned, and a message counts once per subscriber.

The listener runs as the service runs it: its subscribe-by-email handler on an event loop of
its own, sending confirmations through the real SMTP transport to a real aiosmtpd server.
"""

from __future__ import annotations

import asyncio
import random
import re
import smtplib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from digest.config import Settings, load_settings
from digest.render.links import LinkMaker
from digest.send.inbound import (
    REPLY_HEADER_TOO_LONG,
    REPLY_LOCAL_ERROR,
    REPLY_OK,
    REPLY_STORE_DOWN,
    REPLY_TOO_DEEP,
    InboundListener,
)
from digest.send.transport import SmtpTransport
from digest.store.engine import open_engine, transaction
from digest.store.schema import EventRow, SubscriberRow, SuppressionRow
from digest.store.subscribers import get_subscriber
from digest.web.mail_signup import SubscribeByEmail
from tests.database_faults import HOLDER_EMAIL, database_fault
from tests.send.scenario import add_subscribers
from tests.send.smtpd import FaultySmtpServer, free_port

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
OUR_REPLIES = {REPLY_OK, REPLY_TOO_DEEP, REPLY_HEADER_TOO_LONG, REPLY_STORE_DOWN, REPLY_LOCAL_ERROR}
JOIN = "join@example.org"


def dsn(
    recipient: str, *, diagnostic: bytes, action: str = "failed", status: str = "5.1.1"
) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\r\n"
        b"To: bounces@example.org\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        b"\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; " + recipient.encode() + b"\r\n"
        b"Action: " + action.encode() + b"\r\nStatus: " + status.encode() + b"\r\n"
        b"Diagnostic-Code: smtp; " + diagnostic + b"\r\n"
        b"\r\n--B--\r\n"
    )


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return (
        b"From: MAILER-DAEMON@mx.example.net\r\nMIME-Version: 1.0\r\n"
        + opening
        + b"Content-Type: text/plain\r\n\r\ndeep\r\n"
        + closing
    )


class ServiceListener:
    """The inbound listener with the real subscribe handler, on an event loop in a thread."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        transport = SmtpTransport(self.settings.smtp)
        subscribe = SubscribeByEmail(self.settings, self.engine, transport)
        listener = InboundListener(self.settings, self.engine, subscribe=subscribe)
        listener.start()
        self.ready.set()
        try:
            while not self.stop.is_set():
                await asyncio.sleep(0.02)
        finally:
            listener.stop()
            await transport.close()

    def __enter__(self) -> ServiceListener:
        self.thread.start()
        assert self.ready.wait(30), "the listener did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def inbound_settings(settings: Settings, smtp_server: FaultySmtpServer) -> Settings:
    data = settings.model_dump(exclude={"config_file"})
    data["inbound"] = {"host": "127.0.0.1", "port": free_port()}
    data["mail"] = data["mail"] | {"subscribe_address": JOIN}
    data["smtp"] = {"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
    return load_settings(**data)


@pytest.fixture
def listener(inbound_settings: Settings, engine: Engine) -> Iterator[ServiceListener]:
    with ServiceListener(inbound_settings, engine) as running:
        yield running


@pytest.fixture
def readers(engine: Engine) -> list[str]:
    return add_subscribers(engine, 3, now=NOW)


def send(settings: Settings, recipients: list[str], data: bytes, mail_from: str = "") -> str:
    """One SMTP transaction; the DATA reply as "CODE TEXT" (raises if a RCPT is refused)."""
    with smtplib.SMTP("127.0.0.1", settings.inbound.port, timeout=60) as client:
        client.ehlo("mx.example.net")
        client.mail(mail_from)
        for address in recipients:
            code, text = client.rcpt(address)
            assert code == 250, (address, code, text)
        code, text = client.data(data)
    return f"{code} {text.decode()}"


def verp(settings: Settings, engine: Engine, email: str) -> str:
    with transaction(engine) as session:
        return LinkMaker(settings).envelope_sender(get_subscriber(session, email))


def mailto_unsubscribe(settings: Settings, engine: Engine, email: str) -> str:
    with transaction(engine) as session:
        return LinkMaker(settings).mailto_unsubscribe(get_subscriber(session, email))


def events(engine: Engine, email: str, kind: str = "soft_bounce") -> list[str]:
    with transaction(engine) as session:
        query = select(EventRow.detail).where(EventRow.email == email, EventRow.kind == kind)
        return [str(detail) for detail in session.scalars(query)]


def suppression_reason(engine: Engine, email: str) -> str | None:
    with transaction(engine) as session:
        return session.scalar(select(SuppressionRow.reason).where(SuppressionRow.email == email))


def test_thousands_of_nested_multiparts_are_refused_in_our_words(
    inbound_settings: Settings, engine: Engine, readers: list[str], listener: object
) -> None:
    address = verp(inbound_settings, engine, readers[0])
    # 3,000 levels hold more Content-Type text than any message may; 1,000 fit within
    # that but go deeper than the parser.
    for depth, reply in ((3000, REPLY_HEADER_TOO_LONG), (1000, REPLY_TOO_DEEP)):
        assert send(inbound_settings, [address], nested_multiparts(depth)) == reply
        assert send(inbound_settings, [JOIN], nested_multiparts(depth), "eve@example.net") == (
            reply
        )
    assert events(engine, readers[0]) == []
    # The listener goes on: an ordinary bounce right after is recorded.
    reply = send(inbound_settings, [address], dsn(readers[0], diagnostic=b"550 5.1.1 unknown"))
    assert reply == REPLY_OK
    assert suppression_reason(engine, readers[0]) is not None


def test_an_encoded_word_from_hiding_crlf_still_signs_up_the_sender_only(
    inbound_settings: Settings,
    engine: Engine,
    smtp_server: FaultySmtpServer,
    listener: object,
) -> None:
    mail = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.net>\r\n"
        b"Subject: =?utf-8?q?join=0D=0AX-Injected=3A_yes?=\r\n"
        b"\r\ngraph neural networks\r\n"
    )
    assert send(inbound_settings, [JOIN], mail, "eve@example.net") == REPLY_OK
    assert [m.rcpt_to for m in smtp_server.received] == ["eve@example.net"]
    assert b"X-Injected" not in smtp_server.received[0].data
    with transaction(engine) as session:
        assert session.scalars(select(SubscriberRow.email)).all() == ["eve@example.net"]


def test_garbage_bytes_get_our_replies_and_are_stored_clean(
    inbound_settings: Settings, engine: Engine, readers: list[str], listener: object
) -> None:
    rng = random.Random(16)
    address = verp(inbound_settings, engine, readers[1])
    unsubscribe = mailto_unsubscribe(inbound_settings, engine, readers[2])
    for _ in range(5):
        junk = bytes(rng.randrange(256) for _ in range(20_000))
        lines = b"\r\n".join(junk[i : i + 200] for i in range(0, len(junk), 200))
        subject = b"Subject: \x00\x1b[31m\xff\xfe" + junk[:50].replace(b"\n", b"") + b"\r\n"
        for recipients in ([address], [JOIN], [unsubscribe], [address, JOIN]):
            reply = send(inbound_settings, recipients, subject + lines)
            assert reply in OUR_REPLIES, reply
    details = events(engine, readers[1])
    assert details, "a soft bounce is recorded for the unreadable messages"
    for detail in details:
        assert detail.isprintable(), detail
    with transaction(engine) as session:
        assert get_subscriber(session, readers[2]).status == "unsubscribed"


def test_huge_headers_get_a_definite_reply(
    inbound_settings: Settings, engine: Engine, readers: list[str], listener: object
) -> None:
    address = verp(inbound_settings, engine, readers[0])
    body = b"MIME-Version: 1.0\r\n\r\nbody\r\n"
    folded_subject = b"Subject: " + b"\r\n ".join([b"very long subject"] * 60_000) + b"\r\n"
    parameters = b"Content-Type: multipart/report" + b";\r\n a=b" * 300_000 + b"\r\n"
    many_headers = b"".join(b"X-Junk-%d: %s\r\n" % (n, b"j" * 200) for n in range(15_000))
    for headers, reply in (
        (folded_subject, REPLY_HEADER_TOO_LONG),
        (parameters, REPLY_HEADER_TOO_LONG),
        (many_headers, REPLY_OK),
    ):
        message = headers + body
        assert len(message) < 5 * 1024 * 1024
        assert send(inbound_settings, [address], message) == reply
        assert send(inbound_settings, [JOIN], message, "ada@example.org") == reply
    (detail,) = events(engine, readers[0])
    assert detail == "not a delivery status notification: ''"


def test_a_nul_byte_in_the_diagnostic_code_is_cleaned_and_the_bounce_recorded(
    inbound_settings: Settings, engine: Engine, readers: list[str], listener: object
) -> None:
    address = verp(inbound_settings, engine, readers[0])
    diagnostic = b"550 5.1.1 <reader0@example.org>\x00 user\x07 unknown \xe9t\xc3\xa9"
    assert send(inbound_settings, [address], dsn(readers[0], diagnostic=diagnostic)) == REPLY_OK
    reason = suppression_reason(engine, readers[0])
    assert reason is not None
    assert "\x00" not in reason
    assert "\x07" not in reason
    assert "550 5.1.1 <reader0@example.org> user unknown \ufffdt\u00e9" in reason
    with transaction(engine) as session:
        assert get_subscriber(session, readers[0]).status == "bounced"


def test_one_message_to_many_copies_of_one_verp_address_is_one_event(
    inbound_settings: Settings, engine: Engine, readers: list[str], listener: object
) -> None:
    first, second = (verp(inbound_settings, engine, email) for email in readers[:2])
    delay = dsn(readers[0], diagnostic=b"451 4.4.7 try later", action="delayed", status="4.4.7")
    assert send(inbound_settings, [first] * 150, delay) == REPLY_OK
    assert len(events(engine, readers[0])) == 1
    assert send(inbound_settings, [first] * 75 + [second] * 75, delay) == REPLY_OK
    assert len(events(engine, readers[0])) == 2
    assert len(events(engine, readers[1])) == 1
    with transaction(engine) as session:
        total = session.scalar(select(func.count()).select_from(EventRow))
    assert total == 3


def test_a_locked_database_is_a_451_and_the_retry_is_recorded_once(
    inbound_settings: Settings, engine: Engine, readers: list[str]
) -> None:
    unavailable_then_retried(inbound_settings, engine, readers, "locked")


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_read_only_postgres_is_a_451_and_the_retry_is_recorded_once(
    inbound_settings: Settings, engine: Engine, readers: list[str]
) -> None:
    # (A read-only SQLite file is met by `digest serve` in a process of its own: tests/web.)
    unavailable_then_retried(inbound_settings, engine, readers, "read-only")


def unavailable_then_retried(
    inbound_settings: Settings, engine: Engine, readers: list[str], kind: str
) -> None:
    backend = "sqlite" if engine.dialect.name == "sqlite" else "postgres"
    url = engine.url.render_as_string(hide_password=False)
    address = verp(inbound_settings, engine, readers[0])
    bounce = dsn(readers[0], diagnostic=b"550 5.1.1 user unknown")
    impatient = open_engine(url, lock_timeout=1)
    try:
        with ServiceListener(inbound_settings, impatient):
            with database_fault(f"{backend}-{kind}", url):
                assert send(inbound_settings, [address], bounce) == REPLY_STORE_DOWN
            # Connections opened during the fault keep its session settings: start afresh.
            impatient.dispose()
            assert suppression_reason(engine, readers[0]) is None
            assert send(inbound_settings, [address], bounce) == REPLY_OK
    finally:
        impatient.dispose()
    assert suppression_reason(engine, readers[0]) is not None
    with transaction(engine) as session:
        stored = session.scalars(select(SuppressionRow.email)).all()
    assert sorted(stored) == sorted({readers[0]} | ({HOLDER_EMAIL} if kind == "locked" else set()))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # stores nothing
def test_garbage_commands_get_protocol_replies_without_internals(
    inbound_settings: Settings, listener: object
) -> None:
    rng = random.Random(8)
    lines = [bytes(rng.randrange(1, 256) for _ in range(80)).replace(b"\n", b"") for _ in range(20)]
    lines += [b"\x00\x00\x00", b"MAIL FROM:<\x00@x>", b"RCPT TO:<a\x00b@example.org>", b"DATA"]
    with socket.create_connection(("127.0.0.1", inbound_settings.inbound.port), 30) as conn:
        reader = conn.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        conn.sendall(b"EHLO mx.example.net\r\n")
        while not (line := reader.readline()).startswith(b"250 "):
            assert line.startswith(b"250-")
        for garbage in lines:
            conn.sendall(garbage + b"\r\n")
            reply = reader.readline()
            assert re.match(rb"^[2345]\d\d[ -]", reply), reply
            assert not re.search(rb"\(\w+(Error|Exception)\)|Traceback|\.py", reply), reply
        conn.sendall(b"QUIT\r\n")
        assert reader.readline().startswith(b"221")
