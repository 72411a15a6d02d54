"""SMTP and outbox transports against a real SMTP server on 127.0.0.1, faults injected."""

from __future__ import annotations

import asyncio
import email
from pathlib import Path
from typing import Any

import pytest

from digest.config import SmtpSettings, load_settings
from digest.errors import TransportError
from digest.pacing import Pacer
from digest.records import OutgoingEmail
from digest.send.transport import (
    MessageRejected,
    OutboxTransport,
    SmtpTransport,
    make_transport,
)
from tests.send.smtpd import FaultPlan, FaultySmtpServer, running_server


def message(to: str = "ada@example.org", n: int = 0) -> OutgoingEmail:
    data = (
        f"From: digest@example.org\r\nTo: {to}\r\nSubject: digest {n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\nHello {n}\r\n.leading dot\r\n"
    ).encode()
    return OutgoingEmail(
        to=to,
        envelope_from="bounces+tok@example.org",
        subject=f"digest {n}",
        message_id=f"<m{n}@example.org>",
        data=data,
    )


def smtp_settings(server: FaultySmtpServer, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "timeout": 2.0,
        "max_connections": 2,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def send_all(transport: SmtpTransport, emails: list[OutgoingEmail]) -> list[Exception | None]:
    async def run() -> list[Exception | None]:
        async def one(item: OutgoingEmail) -> Exception | None:
            try:
                await transport.send(item)
            except TransportError as exc:
                return exc
            return None

        try:
            return list(await asyncio.gather(*(one(item) for item in emails)))
        finally:
            await transport.close()

    return asyncio.run(run())


def send_one(server: FaultySmtpServer, **overrides: Any) -> Exception | None:
    return send_all(SmtpTransport(smtp_settings(server, **overrides)), [message()])[0]


def test_messages_arrive_intact_over_a_small_pool(smtp_server: FaultySmtpServer) -> None:
    emails = [message(f"user{n}@example.org", n) for n in range(30)]
    errors = send_all(SmtpTransport(smtp_settings(smtp_server)), emails)
    assert errors == [None] * 30
    assert sorted(smtp_server.recipients()) == sorted(e.to for e in emails)
    assert smtp_server.connections <= 2
    first = next(r for r in smtp_server.received if r.rcpt_to == "user7@example.org")
    assert first.mail_from == "bounces+tok@example.org"
    parsed = email.message_from_bytes(first.data)
    assert parsed["Subject"] == "digest 7"
    assert b".leading dot" in first.data


def test_421_at_connect_is_a_retryable_failure(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(connect_reply="421 4.3.2 Service not available")
    error = send_one(smtp_server)
    assert isinstance(error, TransportError)
    assert not error.permanent
    assert not error.in_data
    assert error.code == 421
    assert smtp_server.received == []


def test_451_at_rcpt_is_retryable_and_the_connection_is_reused(
    smtp_server: FaultySmtpServer,
) -> None:
    smtp_server.plan = FaultPlan(
        rcpt_reply="451 4.3.0 Try again later", for_addresses=frozenset({"slow@example.org"})
    )
    transport = SmtpTransport(smtp_settings(smtp_server, max_connections=1))
    errors = send_all(transport, [message("slow@example.org"), message("ok@example.org", 1)])
    assert isinstance(errors[0], TransportError)
    assert not errors[0].permanent
    assert errors[0].code == 451
    assert errors[1] is None
    assert smtp_server.recipients() == ["ok@example.org"]
    assert smtp_server.connections == 1


def test_550_at_rcpt_is_permanent(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(rcpt_reply="550 5.1.1 No such user here")
    error = send_one(smtp_server)
    assert isinstance(error, TransportError)
    assert error.permanent
    assert error.code == 550
    assert "No such user" in str(error)


def test_multi_line_refusal_at_rcpt(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(rcpt_reply="550-5.1.1 No such user here\r\n550 5.1.1 Goodbye")
    transport = SmtpTransport(smtp_settings(smtp_server, max_connections=1))
    errors = send_all(transport, [message("gone@example.org"), message("gone2@example.org", 1)])
    assert all(isinstance(e, TransportError) and e.permanent for e in errors)
    assert "No such user here" in str(errors[0])
    assert "Goodbye" in str(errors[0])


def test_one_connection_carries_message_after_message(smtp_server: FaultySmtpServer) -> None:
    transport = SmtpTransport(smtp_settings(smtp_server, max_connections=1))

    async def run() -> None:
        for n in range(5):
            await transport.send(message(f"u{n}@example.org", n))
        await transport.close()

    asyncio.run(run())
    assert smtp_server.connections == 1
    assert sorted(smtp_server.recipients()) == [f"u{n}@example.org" for n in range(5)]


def test_a_connection_the_server_dropped_while_idle_is_replaced(
    smtp_server: FaultySmtpServer,
) -> None:
    transport = SmtpTransport(smtp_settings(smtp_server, max_connections=1))

    async def run() -> None:
        await transport.send(message("before@example.org"))
        # The server hangs up on every connection (as after its idle timeout) …
        smtp_server.drop_connections()
        await asyncio.sleep(0.2)
        # … and the next message still goes out, on a fresh connection.
        await transport.send(message("after@example.org", 1))
        await transport.close()

    asyncio.run(run())
    assert smtp_server.recipients() == ["before@example.org", "after@example.org"]
    assert smtp_server.connections == 2


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("552 5.2.2 Mailbox full", "retry"),
        ("554 5.7.1 Relay access denied", "rejected"),
        ("530 5.7.0 Authentication required", "rejected"),
    ],
)
def test_rcpt_refusals_that_are_not_the_address(
    smtp_server: FaultySmtpServer, reply: str, kind: str
) -> None:
    smtp_server.plan = FaultPlan(rcpt_reply=reply)
    error = send_one(smtp_server)
    assert isinstance(error, TransportError)
    assert not error.permanent
    assert isinstance(error, MessageRejected) == (kind == "rejected")


def test_421_at_data_is_retryable(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(data_reply="421 4.4.2 Closing connection")
    error = send_one(smtp_server)
    assert isinstance(error, TransportError)
    assert not error.permanent
    assert not error.in_data
    assert error.code == 421


def test_content_refused_at_data_fails_the_message_not_the_address(
    smtp_server: FaultySmtpServer,
) -> None:
    smtp_server.plan = FaultPlan(data_reply="554 5.6.0 Message content rejected")
    error = send_one(smtp_server)
    assert isinstance(error, MessageRejected)
    assert not error.permanent


def test_disconnect_during_data_is_an_unknown_outcome(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(drop_in_data=True, times=1)
    transport = SmtpTransport(smtp_settings(smtp_server, max_connections=1))
    errors = send_all(transport, [message("a@example.org"), message("b@example.org", 1)])
    assert isinstance(errors[0], TransportError)
    assert errors[0].in_data
    assert errors[1] is None  # the pool replaced the dropped connection
    assert smtp_server.recipients() == ["b@example.org"]


def test_a_server_that_stops_answering_times_out(smtp_server: FaultySmtpServer) -> None:
    smtp_server.plan = FaultPlan(hang_at="rcpt")
    error = send_one(smtp_server, timeout=0.3)
    assert isinstance(error, TransportError)
    assert not error.in_data
    assert not error.permanent


def test_a_server_that_stops_answering_after_data_is_unknown(
    smtp_server: FaultySmtpServer,
) -> None:
    smtp_server.plan = FaultPlan(hang_at="data")
    error = send_one(smtp_server, timeout=0.3)
    assert isinstance(error, TransportError)
    assert error.in_data


def test_starttls_required_but_not_offered(smtp_server: FaultySmtpServer) -> None:
    error = send_one(smtp_server, security="starttls")
    assert isinstance(error, TransportError)
    assert "STARTTLS" in str(error)
    assert "smtp.security" in str(error)
    assert smtp_server.received == []


def test_nothing_listening_is_a_retryable_failure() -> None:
    with running_server() as server:
        settings = smtp_settings(server)
    error = send_all(SmtpTransport(settings), [message()])[0]
    assert isinstance(error, TransportError)
    assert not error.permanent
    assert "cannot connect" in str(error)


def test_auth_login() -> None:
    with running_server(credentials=("digest", "s3cret")) as server:
        good = send_one(server, username="digest", password="s3cret")
        bad = send_one(server, username="digest", password="wrong")
        assert good is None
        assert isinstance(bad, TransportError)
        assert "smtp.password" in str(bad)
        assert server.recipients() == ["ada@example.org"]


def test_rate_limiter_spaces_messages_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    limiter = Pacer(1 / 50, clock=lambda: now[0], sleep=fake_sleep)  # 50 a second

    async def run() -> None:
        for _ in range(4):
            await limiter.wait()

    asyncio.run(run())
    assert slept == [0.02, 0.04, 0.06]


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "outbox")

    async def run() -> None:
        for n in range(3):
            await outbox.send(message(f"u{n}@example.org", n))
        await outbox.close()

    asyncio.run(run())
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    parsed = [email.message_from_bytes(f.read_bytes()) for f in files]
    assert sorted(p["To"] for p in parsed) == ["u0@example.org", "u1@example.org", "u2@example.org"]
    assert parsed[0]["Return-Path"] == "<bounces+tok@example.org>"
    assert not list((tmp_path / "outbox").glob(".*"))


def test_make_transport_chooses_outbox_without_smtp_host(tmp_path: Path) -> None:
    settings = load_settings(service={"data_dir": str(tmp_path)})
    assert isinstance(make_transport(settings), OutboxTransport)
    smtp = load_settings(service={"data_dir": str(tmp_path)}, smtp={"host": "127.0.0.1"})
    assert isinstance(make_transport(smtp), SmtpTransport)
