"""DKIM: messages are signed (relaxed/relaxed, unsubscribe headers included) with an RSA or an
Ed25519 key, and dkimpy's verifier accepts them against the DNS record `digest check` prints."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.checks import dkim_dns_record
from digest.errors import ConfigError
from digest.render import Renderer
from tests.render.conftest import make_digest, make_settings, make_subscriber, parse

SELECTOR = "mail2026"
DNS_NAME = b"mail2026._domainkey.example.org."


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, layout: str) -> bytes:
    private_format = {
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
        "pkcs8": serialization.PrivateFormat.PKCS8,
    }[layout]
    return key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    )


def _seed(key: ed25519.Ed25519PrivateKey) -> bytes:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw) + b"\n"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# (the key file's form, the algorithm it signs with)
KEY_FORMS = {
    "rsa-pkcs1": "rsa-sha256",
    "rsa-pkcs8": "rsa-sha256",
    "ed25519-pem": "ed25519-sha256",
    "ed25519-seed": "ed25519-sha256",
}


@pytest.fixture(params=sorted(KEY_FORMS))
def key_file(request: pytest.FixtureRequest, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    form: str = request.param
    edwards = ed25519.Ed25519PrivateKey.generate()
    data = {
        "rsa-pkcs1": lambda: _pem(rsa_key, "pkcs1"),
        "rsa-pkcs8": lambda: _pem(rsa_key, "pkcs8"),
        "ed25519-pem": lambda: _pem(edwards, "pkcs8"),
        "ed25519-seed": lambda: _seed(edwards),
    }[form]()
    path = tmp_path / f"{form}.key"
    path.write_bytes(data)
    return path


def offline_dns(records: dict[bytes, bytes]) -> Callable[..., bytes | None]:
    """A DNS TXT lookup answered from `records`: no network."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup


@pytest.fixture
def published(key_file: Path) -> Callable[..., bytes | None]:
    """DNS serving the record `digest check` tells the operator to publish for the key."""
    return offline_dns({DNS_NAME: dkim_dns_record(key_file).encode("ascii")})


@pytest.fixture
def signing_renderer(tmp_path: Path, key_file: Path) -> Renderer:
    settings = make_settings(tmp_path, dkim_selector=SELECTOR, dkim_key_file=str(key_file))
    return Renderer(settings)


def _tags(data: bytes) -> dict[str, str]:
    header = str(parse(data)["DKIM-Signature"])
    return dict(
        part.split("=", 1) for part in re.sub(r"\s+", "", header).split(";") if part.strip()
    )


def test_signed_digest_verifies(
    signing_renderer: Renderer, key_file: Path, published: Callable[..., bytes | None]
) -> None:
    data = signing_renderer.render_digest(make_digest()).data

    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=published)
    assert _tags(data)["a"] == KEY_FORMS[key_file.stem]
    assert parse(data).defects == []


def test_signature_is_relaxed_and_covers_the_unsubscribe_headers(
    signing_renderer: Renderer,
) -> None:
    tags = _tags(signing_renderer.render_digest(make_digest()).data)

    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "example.org"
    assert tags["s"] == SELECTOR
    signed = set(tags["h"].lower().split(":"))
    assert signed >= {
        "from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
        "list-unsubscribe-post", "mime-version", "content-type", "auto-submitted",
    }  # fmt: skip


def test_tampering_breaks_the_signature(
    signing_renderer: Renderer, published: Callable[..., bytes | None]
) -> None:
    data = signing_renderer.render_digest(make_digest()).data
    head, _, body = data.partition(b"\r\n\r\n")
    swapped_head = re.sub(rb"<https://[^>]+/unsubscribe/[^>]+>", b"<https://evil.example/x>", head)
    swapped = swapped_head + b"\r\n\r\n" + body
    # A header the message lacked, added in transit, breaks it too (signed as absent).
    added = head + b"\r\nReply-To: someone@evil.example\r\n\r\n" + body

    assert swapped_head != head
    assert not dkim.verify(swapped, dnsfunc=published)
    assert not dkim.verify(added, dnsfunc=published)


def test_account_emails_are_signed_too(
    signing_renderer: Renderer, published: Callable[..., bytes | None]
) -> None:
    subscriber = make_subscriber(status="pending")
    for email in (
        signing_renderer.render_confirmation(subscriber),
        signing_renderer.render_welcome(subscriber),
        signing_renderer.render_goodbye(subscriber),
    ):
        assert dkim.verify(email.data, dnsfunc=published)


def test_no_signature_without_a_key(renderer: Renderer) -> None:
    assert b"DKIM-Signature" not in renderer.render_digest(make_digest()).data


def test_missing_key_file_is_a_clear_config_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dkim_selector="s1", dkim_key_file=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match=r"mail\.dkim_key_file.*nope\.pem"):
        Renderer(settings)


def test_key_without_selector_is_a_clear_config_error(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "dkim.pem"
    path.write_bytes(_pem(rsa_key, "pkcs1"))
    settings = make_settings(tmp_path, dkim_key_file=str(path))
    with pytest.raises(ConfigError, match="dkim_selector"):
        Renderer(settings)


@pytest.mark.parametrize(
    "content",
    [
        b"not a key at all\n",
        base64.b64encode(b"sixteen byte key") + b"\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
    ids=["text", "short-seed", "broken-pem"],
)
def test_bad_key_is_a_clear_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    settings = make_settings(tmp_path, dkim_selector="s1", dkim_key_file=str(path))
    with pytest.raises(ConfigError, match=r"mail\.dkim_key_file.*bad\.key is not a usable key"):
        Renderer(settings)


def test_encrypted_key_is_a_clear_config_error(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "locked.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    settings = make_settings(tmp_path, dkim_selector="s1", dkim_key_file=str(path))
    with pytest.raises(ConfigError, match="unencrypted"):
        Renderer(settings)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_keys_made_by_dknewkey_sign_and_match_its_record(tmp_path: Path, kind: str) -> None:
    if kind == "rsa" and shutil.which("openssl") is None:
        pytest.skip("dknewkey makes RSA keys with openssl, which is not installed")
    subprocess.run(
        [sys.executable, "-m", "dkim.dknewkey", "--ktype", kind, "sel"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    key_file, record = tmp_path / "sel.key", (tmp_path / "sel.dns").read_text().strip()
    settings = make_settings(tmp_path, dkim_selector="sel", dkim_key_file=str(key_file))
    data = Renderer(settings).render_digest(make_digest()).data

    assert dkim.verify(data, dnsfunc=offline_dns({b"sel._domainkey.example.org.": record.encode()}))
    printed = dkim_dns_record(key_file)  # what `digest check` tells the operator to publish
    assert printed.rsplit("p=", 1)[1] == record.rsplit("p=", 1)[1]
