"""DKIM signing of finished messages (dkimpy), relaxed/relaxed canonicalisation.

The signature covers the headers receivers and list tools care about, the one-click
unsubscribe headers included, so nobody can strip or replace them in transit. An RSA key
(PEM) signs `rsa-sha256`; a raw base64 Ed25519 seed signs `ed25519-sha256`.
"""

from __future__ import annotations

from pathlib import Path

import dkim

from digest.config import MailSettings
from digest.errors import ConfigError

SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "Auto-Submitted",
)


class DkimSigner:
    """Signs messages with one key; build it once with `from_settings`."""

    def __init__(self, selector: str, domain: str, key: bytes) -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.key = key
        self.algorithm = (
            b"rsa-sha256" if key.lstrip().startswith(b"-----BEGIN") else b"ed25519-sha256"
        )

    @classmethod
    def from_settings(cls, mail: MailSettings) -> DkimSigner | None:
        """A signer when `[mail] dkim_key_file` is set, else None; ConfigError if unusable."""
        if mail.dkim_key_file is None:
            return None
        if not mail.dkim_selector:
            raise ConfigError("key 'mail.dkim_selector' must be set when 'mail.dkim_key_file' is")
        key = _read_key(mail.dkim_key_file)
        signer = cls(mail.dkim_selector, mail.dkim_domain or mail.domain, key)
        signer.sign(b"From: check@example.org\r\nSubject: key check\r\n\r\nx\r\n")
        return signer

    def sign(self, message: bytes) -> bytes:
        """`message` with a `DKIM-Signature` header in front."""
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line and line[:1] not in (b" ", b"\t")
        }
        headers = [h.encode() for h in SIGNED_HEADERS if h.lower().encode() in present]
        try:
            signature = dkim.sign(
                message,
                self.selector,
                self.domain,
                self.key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=headers,
                signature_algorithm=self.algorithm,
            )
        except dkim.DKIMException as exc:
            raise ConfigError(f"DKIM signing failed: {exc}; check 'mail.dkim_key_file'") from None
        return bytes(signature) + message


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"key 'mail.dkim_key_file': cannot read {path} ({exc.strerror})"
        ) from None
