"""Signed, purpose-bound tokens for the links and addresses in emails (itsdangerous).

A token names one subscriber. It is signed with the service's secret key, salted by its
purpose and by the subscriber's own random link secret (`Subscriber.link_secret`), so a
token works for one purpose and one subscriber only: erasing the subscriber destroys the
secret, and a new subscriber (even one that gets the same id back after a restore from
backup, or the same address signing up again) has another one, so old links act on
nobody. Confirmation tokens expire (72 h). Reading a token takes two steps, because the
key that checks it belongs to the subscriber it names:

    token = make_token(secret, "unsubscribe", subscriber)    # "12.aBcDeF.…"
    claim = read_claim(secret, "unsubscribe", token)        # names subscriber 12 (unchecked)
    data = check_claim(secret, claim, subscriber_12)         # TokenData, or TokenError
    data, owner = claim_owner(secret, claim, found)          # the same, and `found`, not None

A token is `<id>.<timestamp>.<signature>`: the subscriber id in decimal, signed by
itsdangerous's `TimestampSigner` (HMAC-SHA1, 27 characters of signature) with the salt
`paper-digest-id/<purpose>/<link secret>`. Tokens made before carry the id as base64 of
JSON, which always starts with a letter (`URLSafeTimedSerializer`, salt
`paper-digest/<purpose>/<link secret>`); they are read and checked as they always were,
and the distinct salts keep either kind from passing for the other. Links sent before
tokens were bound to the subscriber's secret (payload `[id, version]`, or `[id, version,
paper, vote]` for feedback, salted by purpose alone) keep working for the subscriber they
were made for: their token version must still be current and the subscriber must have
existed when they were signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from digest.errors import DigestError

Purpose = Literal["confirm", "unsubscribe", "preferences", "feedback", "bounce", "archive", "feed"]
CONFIRM_MAX_AGE = 72 * 3600
# itsdangerous signs with HMAC-SHA1 by default: 20 bytes, 27 characters of unpadded base64.
_SIGNATURE_CHARS = 27
# A token's payload in the current format: a subscriber id, in decimal, as the database
# can hold it (serialized payloads never start with a digit).
_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,17}")


class TokenError(DigestError):
    """A token is forged, truncated, for another purpose, expired, or no longer names
    anyone (`gone`: its subscriber was erased or signed up anew)."""

    exit_code = 2

    def __init__(self, message: str, *, expired: bool = False, gone: bool = False) -> None:
        super().__init__(message)
        self.expired = expired
        self.gone = gone


class LinkOwner(Protocol):
    """What a token is checked against: the subscriber as the store holds it now."""

    @property
    def id(self) -> int: ...
    @property
    def link_secret(self) -> str: ...
    @property
    def token_version(self) -> int: ...
    @property
    def created_at(self) -> datetime | None: ...


Owner = TypeVar("Owner", bound=LinkOwner)


@dataclass(frozen=True, slots=True)
class TokenData:
    """A checked token: the subscriber, and for an old-style feedback link its vote."""

    subscriber_id: int
    paper_id: int | None = None
    vote: int | None = None


@dataclass(frozen=True, slots=True)
class _Legacy:
    """An old-style token, its signature already checked."""

    version: int
    paper_id: int | None
    vote: int | None
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a token says before the subscriber it names has been looked up."""

    purpose: Purpose
    token: str
    subscriber_id: int
    legacy: _Legacy | None = None
    serialized: bool = False  # made by `URLSafeTimedSerializer`, before the decimal format


def _signer(secret: str, purpose: Purpose, link_secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt=f"paper-digest-id/{purpose}/{link_secret}")


def _serializer(secret: str, purpose: Purpose, link_secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"paper-digest/{purpose}/{link_secret}")


def _legacy_serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"paper-digest/{purpose}")


def _max_age(purpose: Purpose, max_age: int | None) -> int | None:
    return CONFIRM_MAX_AGE if max_age is None and purpose == "confirm" else max_age


def make_token(secret: str, purpose: Purpose, subscriber: LinkOwner) -> str:
    """A token for `purpose` that only `subscriber` (with its current secret) satisfies."""
    signer = _signer(secret, purpose, subscriber.link_secret)
    return signer.sign(str(subscriber.id)).decode("ascii")


def _invalid() -> TokenError:
    return TokenError("this link is not valid (it may be incomplete or for another purpose)")


def _gone() -> TokenError:
    return TokenError("this link no longer works: its subscription was ended or removed", gone=True)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def read_claim(
    secret: str, purpose: Purpose, token: str, *, max_age: int | None = None
) -> LinkClaim:
    """The subscriber a token names; TokenError when it is malformed (or an old-style
    token that is forged or expired). The claim still has to be checked against that
    subscriber with `check_claim`."""
    if len(token.rsplit(".", 1)[-1]) != _SIGNATURE_CHARS:
        raise _invalid()  # cut short (or padded) on the way: say so rather than "gone"
    payload = token.split(".", 1)[0]
    if _DECIMAL_ID.fullmatch(payload):
        return LinkClaim(purpose, token, int(payload))
    return _serialized_claim(secret, purpose, token, max_age)


def _serialized_claim(secret: str, purpose: Purpose, token: str, max_age: int | None) -> LinkClaim:
    legacy = _legacy_serializer(secret, purpose)
    try:
        valid, payload = legacy.loads_unsafe(token)
    except Exception:  # itsdangerous reads any text, but malformed input may fail to decode
        raise _invalid() from None
    if _is_id(payload):
        return LinkClaim(purpose, token, payload, serialized=True)
    if not valid:
        raise _invalid()
    return _legacy_claim(legacy, purpose, token, _max_age(purpose, max_age))


def _legacy_claim(
    legacy: URLSafeTimedSerializer, purpose: Purpose, token: str, max_age: int | None
) -> LinkClaim:
    try:
        payload, signed_at = legacy.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise _invalid() from None
    if not (
        isinstance(payload, list)
        and len(payload) in (2, 4)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in payload)
        and _is_id(payload[0])
    ):
        raise _invalid()
    paper, vote = (payload[2], payload[3]) if len(payload) == 4 else (None, None)
    return LinkClaim(purpose, token, payload[0], _Legacy(payload[1], paper, vote, signed_at))


def check_claim(
    secret: str, claim: LinkClaim, owner: LinkOwner | None, *, max_age: int | None = None
) -> TokenData:
    """The token's data if it was made for `owner` (the subscriber now stored under the
    claimed id, None if there is none); TokenError(gone=True) if not, TokenError(expired=
    True) for an expired confirmation."""
    return claim_owner(secret, claim, owner, max_age=max_age)[0]


def claim_owner(
    secret: str, claim: LinkClaim, owner: Owner | None, *, max_age: int | None = None
) -> tuple[TokenData, Owner]:
    """`check_claim`, returning with the token's data the owner it was made for: a caller
    that looked the claimed id up gets the subscriber it found, known to be there."""
    if owner is None or owner.id != claim.subscriber_id:
        raise _gone()
    if claim.legacy is not None:
        return _check_legacy(claim, claim.legacy, owner), owner
    max_age = _max_age(claim.purpose, max_age)
    try:
        if claim.serialized:
            _serializer(secret, claim.purpose, owner.link_secret).loads(
                claim.token, max_age=max_age
            )
        else:
            _signer(secret, claim.purpose, owner.link_secret).unsign(claim.token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise _gone() from None
    return TokenData(owner.id), owner


def _check_legacy(claim: LinkClaim, legacy: _Legacy, owner: LinkOwner) -> TokenData:
    # Ids could be reused before tokens carried the subscriber's secret: an old token
    # is only good for a subscriber created before it was signed (timestamps in seconds).
    created = owner.created_at
    if legacy.version != owner.token_version or (
        created is not None and int(created.timestamp()) > int(legacy.signed_at.timestamp())
    ):
        raise _gone()
    return TokenData(owner.id, legacy.paper_id, legacy.vote)
