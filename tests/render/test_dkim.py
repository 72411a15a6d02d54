"""DKIM: messages are signed (relaxed/relaxed, unsubscribe headers included) and verify."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import ConfigError
from digest.render import Renderer
from digest.render.signing import relaxed_body
from tests.render.conftest import make_digest, make_settings, make_subscriber, parse


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


def dns_record(key: rsa.RSAPrivateKey) -> bytes:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def offline_dns(records: dict[bytes, bytes]) -> Callable[..., bytes | None]:
    """A DNS TXT lookup answered from `records`: no network."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup


@pytest.fixture
def signing_renderer(tmp_path: Path, key_file: Path) -> Renderer:
    settings = make_settings(tmp_path, dkim_selector="mail2026", dkim_key_file=str(key_file))
    return Renderer(settings)


def test_signed_digest_verifies(signing_renderer: Renderer, rsa_key: rsa.RSAPrivateKey) -> None:
    data = signing_renderer.render_digest(make_digest()).data
    dns = offline_dns({b"mail2026._domainkey.example.org.": dns_record(rsa_key)})

    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=dns)
    assert parse(data).defects == []


def test_signature_is_relaxed_and_covers_the_unsubscribe_headers(
    signing_renderer: Renderer,
) -> None:
    message = parse(signing_renderer.render_digest(make_digest()).data)
    tags = dict(
        part.strip().split("=", 1)
        for part in re.sub(r"\s+", "", str(message["DKIM-Signature"])).split(";")
        if part.strip()
    )

    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.org"
    assert tags["s"] == "mail2026"
    assert tags["a"] == "rsa-sha256"
    signed = set(tags["h"].lower().split(":"))
    assert signed >= {
        "from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
        "list-unsubscribe-post", "mime-version", "content-type",
    }  # fmt: skip


def test_tampering_breaks_the_signature(
    signing_renderer: Renderer, rsa_key: rsa.RSAPrivateKey
) -> None:
    data = signing_renderer.render_digest(make_digest()).data
    dns = offline_dns({b"mail2026._domainkey.example.org.": dns_record(rsa_key)})
    tampered = re.sub(
        rb"List-Unsubscribe: <[^>]+>", b"List-Unsubscribe: <https://evil.example/x>", data
    )

    assert tampered != data
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_account_emails_are_signed_too(
    signing_renderer: Renderer, rsa_key: rsa.RSAPrivateKey
) -> None:
    dns = offline_dns({b"mail2026._domainkey.example.org.": dns_record(rsa_key)})
    subscriber = make_subscriber(status="pending")
    for email in (
        signing_renderer.render_confirmation(subscriber),
        signing_renderer.render_welcome(subscriber),
        signing_renderer.render_goodbye(subscriber),
    ):
        assert dkim.verify(email.data, dnsfunc=dns)


def test_no_signature_without_a_key(renderer: Renderer) -> None:
    assert b"DKIM-Signature" not in renderer.render_digest(make_digest()).data


def test_missing_key_file_is_a_clear_config_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dkim_selector="s1", dkim_key_file=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match=r"mail\.dkim_key_file.*nope\.pem"):
        Renderer(settings)


def test_key_without_selector_is_a_clear_config_error(tmp_path: Path, key_file: Path) -> None:
    settings = make_settings(tmp_path, dkim_key_file=str(key_file))
    with pytest.raises(ConfigError, match="dkim_selector"):
        Renderer(settings)


def reference_relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4 line by line, as the RFC words it."""
    lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


@given(st.lists(st.sampled_from([b"a", b"b ", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n"])))
def test_relaxed_body_canonicalisation_follows_the_rfc(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    assert relaxed_body(body) == reference_relaxed_body(body)
