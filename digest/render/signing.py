"""DKIM signing of finished messages with dkimpy (RFC 6376 relaxed/relaxed; RFC 8463 Ed25519).

The signature covers the headers receivers and list tools care about, the one-click
unsubscribe headers included, so nobody can strip or replace them in transit. An RSA key
(PEM, PKCS#1 or PKCS#8) signs `rsa-sha256`; an Ed25519 key (PEM, or a raw base64 seed as
`dknewkey` writes it) signs `ed25519-sha256`.

The key file is read and checked once, by `cryptography`, so a bad key is a clear
configuration error at start-up rather than a failure on the first message; the key is
then handed to `dkim.sign` in the form dkimpy takes (PEM for RSA, the base64 seed for
Ed25519). `dns_record` gives the TXT record to publish for it (`digest check` prints it).
"""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.config import MailSettings
from digest.errors import ConfigError

# Listed headers that a message lacks are signed as absent: none can be added in transit.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
    b"Reply-To",
    b"Auto-Submitted",
)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def load_private_key(data: bytes) -> PrivateKey:
    """An RSA or Ed25519 key from PEM, or an Ed25519 key from a base64 32-byte seed."""
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
        if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            return key
        raise ValueError("the key is neither RSA nor Ed25519")
    seed = base64.b64decode(data.strip(), validate=True)
    if len(seed) != 32:
        raise ValueError("not a PEM key, nor a base64 Ed25519 seed of 32 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def dns_record(key: PrivateKey) -> str:
    """The TXT record value (`v=DKIM1; k=…; p=…`) that publishes `key`'s public half."""
    if isinstance(key, rsa.RSAPrivateKey):
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"


def _dkimpy_key(key: PrivateKey) -> tuple[bytes, bytes]:
    """(signature algorithm, the key as dkimpy reads it)."""
    if isinstance(key, rsa.RSAPrivateKey):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        return b"rsa-sha256", pem
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return b"ed25519-sha256", base64.b64encode(seed)


class DkimSigner:
    """Signs messages with one key; build it once with `from_settings`."""

    def __init__(self, selector: str, domain: str, key: PrivateKey) -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.algorithm, self._key = _dkimpy_key(key)

    @classmethod
    def from_settings(cls, mail: MailSettings) -> DkimSigner | None:
        """A signer when `[mail] dkim_key_file` is set, else None; ConfigError if unusable."""
        if mail.dkim_key_file is None:
            return None
        if not mail.dkim_selector:
            raise ConfigError("key 'mail.dkim_selector' must be set when 'mail.dkim_key_file' is")
        try:
            key = load_private_key(_read_key(mail.dkim_key_file))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(
                f"key 'mail.dkim_key_file': {mail.dkim_key_file} is not a usable key ({exc}); "
                "use an unencrypted PEM RSA or Ed25519 key"
            ) from None
        return cls(mail.dkim_selector, mail.dkim_domain or mail.domain, key)

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line ends) with a `DKIM-Signature` header in front."""
        signature: bytes = dkim.sign(
            message,
            self.selector,
            self.domain,
            self._key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.algorithm,
            include_headers=list(SIGNED_HEADERS),
        )
        return signature + message


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"key 'mail.dkim_key_file': cannot read {path} ({exc.strerror})"
        ) from None
