"""STARTTLS and implicit TLS with AUTH, against a real SMTP server with its own certificate
that offers PIPELINING, as Postfix does."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from digest.config import SmtpSettings
from digest.errors import TransportError
from digest.records import OutgoingEmail
from digest.send.transport import SmtpTransport


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem"


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticate(
    server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"u", b"p")
    return AuthResult(success=ok, handled=False)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["starttls", "tls"])
def tls_server(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, int, _Inbox]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    inbox, port = _Inbox(), _port()
    common: dict[str, Any] = {"hostname": "127.0.0.1", "port": port, "authenticator": _authenticate}
    if request.param == "starttls":
        controller = Controller(
            inbox,
            tls_context=server_context,
            require_starttls=True,
            auth_require_tls=True,
            **common,
        )
    else:
        controller = Controller(inbox, ssl_context=server_context, auth_require_tls=False, **common)
    controller.start()
    yield request.param, port, inbox
    controller.stop()


def _email() -> OutgoingEmail:
    data = b"From: digest@example.org\r\nTo: ada@example.org\r\nSubject: hi\r\n\r\nHello\r\n"
    return OutgoingEmail(
        to="ada@example.org",
        envelope_from="bounces+t@example.org",
        subject="hi",
        message_id="<m@example.org>",
        data=data,
    )


def _settings(security: str, port: int) -> SmtpSettings:
    """The server's TLS mode with a login, as an operator would configure it."""
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security=security,
        username="u",
        password="p",
        timeout=5,
    )


def test_tls_and_auth_deliver(
    tls_server: tuple[str, int, _Inbox], certificate: tuple[Path, Path]
) -> None:
    security, port, inbox = tls_server
    settings = _settings(security, port)
    trust = ssl.create_default_context(cafile=str(certificate[0]))

    async def run() -> None:
        transport = SmtpTransport(settings, tls_context=trust)
        try:
            for _ in range(3):
                await transport.send(_email())
        finally:
            await transport.close()

    asyncio.run(run())
    assert inbox.received == [("bounces+t@example.org", ["ada@example.org"])] * 3


def test_an_untrusted_certificate_is_refused(tls_server: tuple[str, int, _Inbox]) -> None:
    security, port, inbox = tls_server
    settings = _settings(security, port)

    async def run() -> None:
        transport = SmtpTransport(settings)
        try:
            await transport.send(_email())
        finally:
            await transport.close()

    with pytest.raises(TransportError, match=r"127\.0\.0\.1"):
        asyncio.run(run())
    assert inbox.received == []
