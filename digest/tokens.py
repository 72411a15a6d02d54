"""Signed, purpose-bound tokens for the links in emails (itsdangerous).

A token carries a subscriber id (and for feedback a paper id and a vote) and is signed with
the service's secret key salted by its purpose, so a token minted for one purpose or one
subscriber never works for another. Confirmation tokens expire (72 h); the others last as
long as the subscriber's `token_version` is unchanged (bumping it revokes every old link).

    make_token(secret, "unsubscribe", subscriber_id=7, version=0)  -> "…"
    read_token(secret, "unsubscribe", token)                       -> TokenData(7, 0, …)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import DigestError

Purpose = Literal["confirm", "unsubscribe", "preferences", "feedback", "bounce"]
CONFIRM_MAX_AGE = 72 * 3600


class TokenError(DigestError):
    """A token is forged, truncated, for another purpose, or expired."""

    exit_code = 2

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class TokenData:
    subscriber_id: int
    version: int
    paper_id: int | None = None
    vote: int | None = None


def _serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"paper-digest/{purpose}")


def make_token(
    secret: str,
    purpose: Purpose,
    *,
    subscriber_id: int,
    version: int = 0,
    paper_id: int | None = None,
    vote: int | None = None,
) -> str:
    payload: list[int] = [subscriber_id, version]
    if paper_id is not None:
        payload += [paper_id, vote or 0]
    return _serializer(secret, purpose).dumps(payload)


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: int | None = None
) -> TokenData:
    """Decode a token of this purpose; TokenError if it is not valid (or too old)."""
    if max_age is None and purpose == "confirm":
        max_age = CONFIRM_MAX_AGE
    try:
        payload = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise TokenError(
            "this link is not valid (it may be incomplete or for another purpose)"
        ) from None
    if not (
        isinstance(payload, list)
        and len(payload) in (2, 4)
        and all(isinstance(v, int) for v in payload)
    ):
        raise TokenError("this link is not valid")
    if len(payload) == 4:
        return TokenData(payload[0], payload[1], payload[2], payload[3])
    return TokenData(payload[0], payload[1])
