"""The links and addresses that go into emails: confirm, unsubscribe, preferences, feedback.

    links = LinkMaker(settings)
    links.unsubscribe(subscriber_id=7)        -> "https://digest.example.org/unsubscribe/…"
    links.mailto_unsubscribe(subscriber_id=7) -> "unsubscribe+…@example.org"
    links.envelope_sender(subscriber_id=7)    -> "bounces+…@example.org"   (VERP)

Tokens are the ones `digest.tokens` makes and reads. Minting them through itsdangerous costs
about 18 µs each, and a digest carries two dozen (two feedback links per paper), so this
module mints the same tokens itself: the key is derived once per purpose, its HMAC pads
hashed once, and each token costs two SHA-1 blocks. `read_token` accepts them unchanged
(the tests check both ways).
"""

from __future__ import annotations

import hashlib
import time
from binascii import b2a_base64
from collections.abc import Sequence

from digest.config import Settings
from digest.tokens import Purpose, _serializer

_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_SHA1_BLOCK = 64


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding, as itsdangerous writes it."""
    return b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _hmac_pads(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-1 states with HMAC's inner and outer key pads hashed in (RFC 2104)."""
    if len(key) > _SHA1_BLOCK:
        key = hashlib.sha1(key).digest()
    key = key.ljust(_SHA1_BLOCK, b"\0")
    inner = hashlib.sha1(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha1(bytes(byte ^ 0x5C for byte in key))
    return inner, outer


class TokenMinter:
    """Mints `digest.tokens`-compatible tokens fast: keys derived and pads hashed once."""

    def __init__(self, secret: str) -> None:
        self._pads: dict[str, tuple[hashlib._Hash, hashlib._Hash]] = {}
        self._last_stamp, self._last_encoded = -1, b""
        for purpose in ("confirm", "unsubscribe", "preferences", "feedback", "bounce"):
            serializer = _serializer(secret, purpose)
            key = serializer.make_signer(serializer.salt).derive_key()
            self._pads[purpose] = _hmac_pads(key)

    def _stamp(self, timestamp: int | None) -> bytes:
        stamp = int(time.time()) if timestamp is None else timestamp
        if stamp != self._last_stamp:
            self._last_stamp = stamp
            self._last_encoded = b"." + _b64(
                stamp.to_bytes((stamp.bit_length() + 7) // 8 or 1, "big")
            )
        return self._last_encoded

    def _sign(
        self, purpose: str, payloads: Sequence[bytes], stamp: bytes, prefix: bytes = b""
    ) -> list[str]:
        """`prefix` and the token of each payload (compact JSON), signed at `stamp`."""
        inner, outer = self._pads[purpose]
        tokens = []
        for payload in payloads:
            value = b2a_base64(payload, newline=False).translate(_URL_SAFE).rstrip(b"=") + stamp
            mac = inner.copy()
            mac.update(value)
            signature = outer.copy()
            signature.update(mac.digest())
            # A SHA-1 MAC is 20 bytes: 27 characters of base64 and one "=" of padding.
            encoded = b2a_base64(signature.digest(), newline=False).translate(_URL_SAFE)[:27]
            tokens.append((prefix + value + b"." + encoded).decode("ascii"))
        return tokens

    def mint(
        self,
        purpose: Purpose,
        subscriber_id: int,
        version: int = 0,
        paper_id: int | None = None,
        vote: int | None = None,
        *,
        timestamp: int | None = None,
    ) -> str:
        # The compact JSON itsdangerous writes; payloads this small are never compressed.
        if paper_id is None:
            payload = b"[%d,%d]" % (subscriber_id, version)
        else:
            payload = b"[%d,%d,%d,%d]" % (subscriber_id, version, paper_id, vote or 0)
        return self._sign(purpose, (payload,), self._stamp(timestamp))[0]

    def votes(
        self, subscriber_id: int, paper_id: int, version: int = 0, *, prefix: bytes = b""
    ) -> list[str]:
        """`prefix` and the feedback token of a +1, then of a -1 vote on a paper, minted now."""
        head = b"[%d,%d,%d," % (subscriber_id, version, paper_id)
        return self._sign("feedback", (head + b"1]", head + b"-1]"), self._stamp(None), prefix)


class LinkMaker:
    """Builds every URL and address an email carries, for one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.web.base_url.rstrip("/")
        self.domain = settings.mail.domain
        self.minter = TokenMinter(settings.secret_key())
        self.feedback_base = f"{self.base_url}/feedback/"
        self._feedback = self.feedback_base.encode()

    def confirm(self, subscriber_id: int, version: int = 0) -> str:
        token = self.minter.mint("confirm", subscriber_id, version)
        return f"{self.base_url}/confirm/{token}"

    def unsubscribe(self, subscriber_id: int, version: int = 0) -> str:
        token = self.minter.mint("unsubscribe", subscriber_id, version)
        return f"{self.base_url}/unsubscribe/{token}"

    def preferences(self, subscriber_id: int, version: int = 0) -> str:
        token = self.minter.mint("preferences", subscriber_id, version)
        return f"{self.base_url}/preferences/{token}"

    def feedback(self, subscriber_id: int, paper_id: int, vote: int, version: int = 0) -> str:
        """A one-click vote on a paper: `vote` is +1 (more like this) or -1 (fewer)."""
        token = self.minter.mint("feedback", subscriber_id, version, paper_id, vote)
        return f"{self.base_url}/feedback/{token}"

    def feedback_pair(self, subscriber_id: int, paper_id: int, version: int = 0) -> list[str]:
        """The "more like this" and "less like this" links of a paper."""
        return self.minter.votes(subscriber_id, paper_id, version, prefix=self._feedback)

    def unsubscribe_pair(self, subscriber_id: int, version: int = 0) -> tuple[str, str]:
        """(`unsubscribe` URL, `mailto_unsubscribe` address), one token for both."""
        token = self.minter.mint("unsubscribe", subscriber_id, version)
        return f"{self.base_url}/unsubscribe/{token}", f"unsubscribe+{token}@{self.domain}"

    def mailto_unsubscribe(self, subscriber_id: int, version: int = 0) -> str:
        """The address whose mail unsubscribes (the `mailto:` of List-Unsubscribe)."""
        token = self.minter.mint("unsubscribe", subscriber_id, version)
        return f"unsubscribe+{token}@{self.domain}"

    def envelope_sender(self, subscriber_id: int, version: int = 0) -> str:
        """The VERP return path: a bounce to it names the subscriber."""
        token = self.minter.mint("bounce", subscriber_id, version)
        return f"bounces+{token}@{self.domain}"

    def home(self) -> str:
        return f"{self.base_url}/"
