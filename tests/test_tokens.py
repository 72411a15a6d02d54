"""Link tokens: the decimal format reads back for its own purpose and subscriber only, and
tokens in the format made before (JSON payload by `URLSafeTimedSerializer`) still read and
check as they did."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import get_args

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from digest.tokens import (
    CONFIRM_MAX_AGE,
    LinkOwner,
    Purpose,
    TokenError,
    check_claim,
    make_token,
    read_claim,
)

SECRET = "test-secret-key"
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)


@dataclass(frozen=True)
class Owner:
    id: int
    link_secret: str
    token_version: int = 0
    created_at: datetime | None = datetime(2026, 1, 1, tzinfo=UTC)


ADA = Owner(12, "ada-link-secret")
BO = Owner(13, "bo-link-secret")


def serialized_token(secret: str, purpose: Purpose, owner: LinkOwner) -> str:
    """A token as links were minted before the decimal format."""
    salt = f"paper-digest/{purpose}/{owner.link_secret}"
    return URLSafeTimedSerializer(secret, salt=salt).dumps(owner.id)


class SignerAt(TimestampSigner):
    """A signer whose clock reads `at` (seconds since the epoch)."""

    def __init__(self, secret: str, salt: str, at: float) -> None:
        super().__init__(secret, salt=salt)
        self.at = at

    def get_timestamp(self) -> int:
        return int(self.at)


def decimal_token_at(purpose: Purpose, owner: Owner, hours_ago: float) -> str:
    salt = f"paper-digest-id/{purpose}/{owner.link_secret}"
    signer = SignerAt(SECRET, salt, time.time() - hours_ago * 3600)
    return signer.sign(str(owner.id)).decode()


def check(purpose: Purpose, token: str, owner: Owner | None) -> int:
    return check_claim(SECRET, read_claim(SECRET, purpose, token), owner).subscriber_id


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_token_is_the_decimal_id_signed_and_reads_back(purpose: Purpose) -> None:
    token = make_token(SECRET, purpose, ADA)
    payload, _, signature = token.split(".")
    assert payload == "12"
    assert len(signature) == 27
    assert check(purpose, token, ADA) == 12


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_token_minted_by_the_serializer_still_reads_back(purpose: Purpose) -> None:
    token = serialized_token(SECRET, purpose, ADA)
    assert token.startswith("MTI.")  # base64 of the JSON "12"
    assert check(purpose, token, ADA) == 12
    with pytest.raises(TokenError) as foreign:
        check(purpose, token, replace(ADA, link_secret="a new secret"))
    assert foreign.value.gone


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_token_for_one_purpose_fails_for_every_other(purpose: Purpose) -> None:
    for token in (make_token(SECRET, purpose, ADA), serialized_token(SECRET, purpose, ADA)):
        for other in PURPOSES:
            if other == purpose:
                continue
            with pytest.raises(TokenError):
                check(other, token, ADA)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_token_for_one_subscriber_fails_for_another(purpose: Purpose) -> None:
    token = make_token(SECRET, purpose, ADA)
    with pytest.raises(TokenError) as other_id:
        check_claim(SECRET, read_claim(SECRET, purpose, token), BO)
    assert other_id.value.gone
    renamed = token.replace("12.", "13.", 1)  # Ada's signature on Bo's id
    with pytest.raises(TokenError) as swapped:
        check(purpose, renamed, BO)
    assert swapped.value.gone
    same_id = Owner(12, "the secret of whoever has id 12 now")
    with pytest.raises(TokenError) as reused:
        check(purpose, token, same_id)
    assert reused.value.gone
    with pytest.raises(TokenError):
        check(purpose, make_token("another-key", purpose, ADA), ADA)


def test_the_two_formats_never_pass_for_each_other() -> None:
    serializer_salt = f"paper-digest/unsubscribe/{ADA.link_secret}"
    decimal_under_old_salt = TimestampSigner(SECRET, salt=serializer_salt).sign("12").decode()
    with pytest.raises(TokenError) as decimal:
        check("unsubscribe", decimal_under_old_salt, ADA)
    assert decimal.value.gone
    json_under_new_salt = URLSafeTimedSerializer(
        SECRET, salt=f"paper-digest-id/unsubscribe/{ADA.link_secret}"
    ).dumps(12)
    with pytest.raises(TokenError) as serialized:
        check("unsubscribe", json_under_new_salt, ADA)
    assert serialized.value.gone


def test_confirm_tokens_expire_after_72_hours_and_others_do_not() -> None:
    assert CONFIRM_MAX_AGE == 72 * 3600
    assert check("confirm", decimal_token_at("confirm", ADA, hours_ago=71), ADA) == 12
    with pytest.raises(TokenError) as expired:
        check("confirm", decimal_token_at("confirm", ADA, hours_ago=73), ADA)
    assert expired.value.expired
    assert str(expired.value) == "this link has expired"
    assert check("preferences", decimal_token_at("preferences", ADA, hours_ago=24 * 400), ADA)


def test_an_expired_token_with_a_forged_signature_is_not_called_expired() -> None:
    token = decimal_token_at("confirm", ADA, hours_ago=73)
    # The signature's first character, not its last: the last one's low bits are base64
    # padding, so changing it may leave the signature's bytes as they were.
    signed, signature = token.rsplit(".", 1)
    forged = f"{signed}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(TokenError) as answer:
        check("confirm", forged, ADA)
    assert (answer.value.expired, answer.value.gone) == (False, True)


@pytest.mark.parametrize(
    "token",
    [
        "12.aBcDeF.short",
        "12.aBcDeF." + "A" * 28,
        "012.aBcDeF." + "A" * 27,
        "0.aBcDeF." + "A" * 27,
        "1" * 40 + ".aBcDeF." + "A" * 27,
        "-12.aBcDeF." + "A" * 27,
        "١٢.aBcDeF." + "A" * 27,  # Arabic-Indic digits are not an id
        "",
    ],
)
def test_malformed_tokens_are_invalid_not_gone(token: str) -> None:
    with pytest.raises(TokenError) as answer:
        read_claim(SECRET, "unsubscribe", token)
    assert str(answer.value).startswith("this link is not valid (it may be incomplete")
    assert (answer.value.gone, answer.value.expired) == (False, False)


def test_a_claim_on_nobody_is_gone() -> None:
    claim = read_claim(SECRET, "feed", make_token(SECRET, "feed", ADA))
    with pytest.raises(TokenError) as answer:
        check_claim(SECRET, claim, None)
    assert answer.value.gone
    assert "no longer works" in str(answer.value)
