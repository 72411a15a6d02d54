"""The links in emails: one-click unsubscribe, preferences, data export, erasure, feedback,
and what forged, truncated, expired, reused, foreign or earlier-format tokens get."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from digest.rank.embed import Embedder
from digest.records import FeedEntry, Subscriber
from digest.store.engine import transaction
from digest.store.feedback import feedback_for
from digest.store.papers import ingest_entries
from digest.store.schema import EventRow, FeedbackRow, PaperRow, SubscriberRow
from digest.store.subscribers import SubscriberInput, subscriber_by_id, upsert_subscriber
from digest.tokens import Purpose, make_token
from tests.conftest import assert_topics_embedded
from tests.test_tokens import SignerAt, serialized_token
from tests.web.conftest import Site, both_databases

SECRET = "test-secret-key"


def add_subscriber(site: Site, email: str = "ada@example.org", status: str = "active") -> int:
    data = SubscriberInput(email=email, topics=("graph neural networks",), status=status)
    with transaction(site.engine) as session:
        sub, _ = upsert_subscriber(
            session, data.validate(), default_timezone="UTC", default_send_at="07:00"
        )
    return sub.id


def add_paper(site: Site, key: str = "2601.00001") -> int:
    with transaction(site.engine) as session:
        ingest_entries(
            session,
            [FeedEntry(source="arxiv", key=key, title=f"Paper {key}", abstract="About graphs.")],
            now=datetime.now(UTC),
        )
        return int(session.scalar(select(PaperRow.id).where(PaperRow.key == key)) or 0)


def stored(site: Site, subscriber_id: int) -> Subscriber:
    with transaction(site.engine) as session:
        sub = subscriber_by_id(session, subscriber_id)
    assert sub is not None
    return sub


def url(site: Site, purpose: Purpose, subscriber_id: int, paper: int = 0, vote: int = 0) -> str:
    """The path of a link the emails carry, made for the subscriber as stored now."""
    token = make_token(SECRET, purpose, stored(site, subscriber_id))
    if purpose == "feedback":
        return f"/feedback/{token}/{paper}/{'up' if vote > 0 else 'down'}"
    return f"/{purpose}/{token}"


def status_of(site: Site, subscriber_id: int) -> str | None:
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, subscriber_id)
        return row.status if row else None


@both_databases
def test_one_click_unsubscribe_post_is_idempotent_and_needs_no_csrf(site: Site) -> None:
    sid = add_subscriber(site)
    link = url(site, "unsubscribe", sid)
    body = {"List-Unsubscribe": "One-Click"}
    first = site.client.post(link, data=body)
    assert first.status_code == 200
    assert "location" not in first.headers
    assert status_of(site, sid) == "unsubscribed"
    replay = site.client.post(link, data=body)
    assert replay.status_code == 200
    assert status_of(site, sid) == "unsubscribed"
    with transaction(site.engine) as session:
        count = session.scalar(select(func.count()).where(EventRow.kind == "unsubscribed"))
    assert count == 1
    assert site.smtp.received == []  # a one-click unsubscribe sends nothing more


def test_unsubscribe_get_shows_a_button_and_changes_nothing(site: Site) -> None:
    sid = add_subscriber(site)
    page = site.client.get(url(site, "unsubscribe", sid))
    assert page.status_code == 200
    assert "ada@example.org" in page.text
    assert "<button" in page.text
    assert status_of(site, sid) == "active"
    done = site.client.post(url(site, "unsubscribe", sid), data={"source": "page"})
    assert "You are unsubscribed" in done.text
    assert status_of(site, sid) == "unsubscribed"
    (goodbye,) = site.messages_to("ada@example.org")
    assert "unsubscribed" in goodbye["Subject"].lower()
    assert "You are unsubscribed" in site.client.get(url(site, "unsubscribe", sid)).text


@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences", "confirm", "feedback"])
def test_forged_truncated_and_foreign_tokens_act_on_nobody(site: Site, purpose: Purpose) -> None:
    sid = add_subscriber(site, status="pending" if purpose == "confirm" else "active")
    sub = stored(site, sid)
    after = f"/{add_paper(site)}/up" if purpose == "feedback" else ""
    good = make_token(SECRET, purpose, sub)
    other_purpose: Purpose = "preferences" if purpose != "preferences" else "unsubscribe"
    bad_tokens = [
        good[:-6],  # truncated by a mail program
        good[:-10] + ("A" if good[-10] != "A" else "B") + good[-9:],  # forged signature
        make_token("another-key", purpose, sub),
        make_token(SECRET, other_purpose, sub),  # minted for something else
        "x" * 5000,
        "%00%0d%0a",
        "..%2F..%2Fetc%2Fpasswd",
    ]
    for token in bad_tokens:
        for method in ("GET", "POST"):
            answer = site.client.request(method, f"/{purpose}/{token}{after}")
            status = answer.status_code
            assert status in (400, 403, 404, 410), (method, token[:20], status)
    truncated = site.client.get(f"/{purpose}/{good[:-6]}{after}")
    assert truncated.status_code == 400
    assert "may be incomplete" in truncated.text
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, sid)
        assert row is not None
        assert row.status == ("pending" if purpose == "confirm" else "active")
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0


def test_an_expired_confirm_link_says_so(site: Site) -> None:
    sid = add_subscriber(site, status="pending")
    secret = stored(site, sid).link_secret
    three_days_ago = (datetime.now(UTC) - timedelta(hours=73)).timestamp()
    signer = SignerAt(SECRET, f"paper-digest-id/confirm/{secret}", three_days_ago)
    serializer_payload = serialized_token(SECRET, "confirm", stored(site, sid)).split(".")[0]
    serializer_signer = SignerAt(SECRET, f"paper-digest/confirm/{secret}", three_days_ago)
    for expired in (
        signer.sign(str(sid)).decode(),
        serializer_signer.sign(serializer_payload).decode(),  # the format made before
    ):
        page = site.client.get(f"/confirm/{expired}")
        assert page.status_code == 410
        assert "expired" in page.text
        answer = site.client.post(f"/confirm/{expired}", data={"csrf_token": site.csrf_token()})
        assert answer.status_code == 410
        assert status_of(site, sid) == "pending"


def test_an_old_confirm_link_does_not_revive_an_unsubscribed_address(site: Site) -> None:
    sid = add_subscriber(site, status="unsubscribed")
    link = url(site, "confirm", sid)
    assert site.client.get(link).status_code == 410
    assert site.client.post(link, data={"csrf_token": site.csrf_token()}).status_code == 410
    assert status_of(site, sid) == "unsubscribed"


@both_databases
def test_links_minted_by_the_serializer_keep_working(site: Site) -> None:
    sid = add_subscriber(site)
    paper = add_paper(site)
    sub = stored(site, sid)

    def link(purpose: Purpose) -> str:
        return f"/{purpose}/{serialized_token(SECRET, purpose, sub)}"

    page = site.client.get(link("preferences"))
    assert page.status_code == 200
    assert "ada@example.org" in page.text
    assert site.client.get(link("archive")).status_code == 200
    feed = site.client.get(link("feed"))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert site.client.get(f"{link('feedback')}/{paper}/up").status_code == 200
    with transaction(site.engine) as session:
        assert [p.id for p in feedback_for(session, [sid])[sid].liked] == ["2601.00001"]
    assert site.client.post(link("unsubscribe")).status_code == 200
    assert status_of(site, sid) == "unsubscribed"


def test_a_link_for_one_subscriber_acts_on_no_other(site: Site) -> None:
    ada, bo = add_subscriber(site), add_subscriber(site, "bo@example.org")
    token = make_token(SECRET, "unsubscribe", stored(site, ada))
    payload, rest = token.split(".", 1)
    assert payload == str(ada)
    answer = site.client.post(f"/unsubscribe/{bo}.{rest}")  # Ada's signature, Bo's id
    assert answer.status_code == 410
    assert site.client.get(f"/preferences/{token}").status_code == 410  # another purpose
    assert (status_of(site, ada), status_of(site, bo)) == ("active", "active")


def test_a_new_link_secret_revokes_every_link_made_before(site: Site) -> None:
    sid = add_subscriber(site)
    preferences, unsubscribe = url(site, "preferences", sid), url(site, "unsubscribe", sid)
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, sid)
        assert row is not None
        row.link_secret = "a fresh secret"
    page = site.client.get(preferences)
    assert page.status_code == 410
    assert "ada@example.org" not in page.text
    assert site.client.post(unsubscribe).status_code == 410
    assert status_of(site, sid) == "active"


def preferences_form(site: Site, link: str, **fields: str) -> dict[str, str]:
    form = {
        "topics": "graph neural networks\nmessage passing",
        "categories": "cs.LG",
        "authors": "",
        "exclude": "survey",
        "timezone": "Asia/Tokyo",
        "send_at": "08:15",
        "csrf_token": site.csrf_token(link),
    }
    form.update(fields)
    return form


@both_databases
def test_preferences_edit_everything_but_the_address(site: Site, embedder: Embedder) -> None:
    sid = add_subscriber(site)
    link = url(site, "preferences", sid)
    page = site.client.get(link)
    assert page.status_code == 200
    assert "graph neural networks" in page.text
    assert page.headers["cache-control"] == "no-store"
    saved = site.client.post(link, data=preferences_form(site, link, email="evil@example.org"))
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{link}?done=saved"
    assert "preferences are saved" in site.client.get(saved.headers["location"]).text
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, sid)
        assert row is not None
        assert row.email == "ada@example.org"
        assert row.topics == ["graph neural networks", "message passing"]
        assert (row.categories, row.exclude) == (["cs.LG"], ["survey"])
        assert (row.timezone, row.send_at) == ("Asia/Tokyo", "08:15")
    assert_topics_embedded(site.engine, embedder, "graph neural networks", "message passing")


def test_preferences_refuse_bad_input_and_missing_csrf(site: Site) -> None:
    sid = add_subscriber(site)
    link = url(site, "preferences", sid)
    many = "\n".join(f"t{n}" for n in range(500))
    bad = site.client.post(link, data=preferences_form(site, link, topics=many))
    assert bad.status_code == 400
    assert "At most 20" in bad.text
    no_csrf = preferences_form(site, link)
    del no_csrf["csrf_token"]
    assert site.client.post(link, data=no_csrf).status_code == 403
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, sid)
        assert row is not None
        assert row.topics == ["graph neural networks"]


def test_pause_and_resume(site: Site) -> None:
    sid = add_subscriber(site)
    link = url(site, "preferences", sid)
    token = site.csrf_token(link)
    assert site.client.post(f"{link}/pause", data={"csrf_token": token}).status_code == 303
    assert status_of(site, sid) == "paused"
    assert "Resume my digest" in site.client.get(link).text
    assert site.client.post(f"{link}/resume", data={"csrf_token": token}).status_code == 303
    assert status_of(site, sid) == "active"
    assert site.client.post(f"{link}/pause", data={}).status_code == 403
    assert status_of(site, sid) == "active"


@both_databases
def test_download_my_data_and_delete_me(site: Site) -> None:
    sid = add_subscriber(site)
    paper = add_paper(site)
    site.client.get(url(site, "feedback", sid, paper, 1))
    link, unsubscribe = url(site, "preferences", sid), url(site, "unsubscribe", sid)
    data = site.client.get(f"{link}/data.json")
    assert data.status_code == 200
    assert "attachment" in data.headers["content-disposition"]
    exported = json.loads(data.text)
    assert exported["subscriber"]["email"] == "ada@example.org"
    assert exported["feedback"][0]["paper"] == "2601.00001"
    token = site.csrf_token(link)
    unconfirmed = site.client.post(f"{link}/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 400
    assert status_of(site, sid) == "active"
    gone = site.client.post(f"{link}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert gone.status_code == 200
    assert "Everything is deleted" in gone.text
    with transaction(site.engine) as session:
        assert session.get(SubscriberRow, sid) is None
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0
        mentions = select(func.count()).where(EventRow.email == "ada@example.org")
        assert session.scalar(mentions) == 0
    assert site.client.get(link).status_code == 410
    assert site.client.get(f"{link}/data.json").status_code == 410
    assert site.client.post(unsubscribe).status_code == 410


@both_databases
def test_feedback_links_record_the_vote_and_reach_ranking(site: Site) -> None:
    sid = add_subscriber(site)
    liked, disliked = add_paper(site, "2601.00001"), add_paper(site, "2601.00002")
    up = site.client.get(url(site, "feedback", sid, liked, 1))
    assert up.status_code == 200
    assert "Paper 2601.00001" in up.text
    site.client.get(url(site, "feedback", sid, disliked, -1))
    site.client.get(url(site, "feedback", sid, disliked, -1))  # twice: still one vote
    site.client.head(url(site, "feedback", sid, liked, -1))  # link checkers record nothing
    with transaction(site.engine) as session:
        votes = feedback_for(session, [sid])[sid]
    assert [p.id for p in votes.liked] == ["2601.00001"]
    assert [p.id for p in votes.disliked] == ["2601.00002"]
    # change of mind on the thank-you page
    link = url(site, "feedback", sid, disliked, -1)
    token = site.csrf_token(link)
    assert site.client.post(link, data={"csrf_token": token, "vote": "none"}).status_code == 200
    assert site.client.post(link, data={"csrf_token": token, "vote": "sideways"}).status_code == 400
    with transaction(site.engine) as session:
        assert feedback_for(session, [sid])[sid].disliked == []


def test_feedback_for_a_paper_that_does_not_exist(site: Site) -> None:
    sid = add_subscriber(site)
    assert site.client.get(url(site, "feedback", sid, 99_999, 1)).status_code == 410


# Links as the code made them before tokens were bound to the subscriber's link secret
# (payload [subscriber id, token version], or [id, version, paper, vote], salted by the
# purpose alone), for subscriber 1 at version 0 and paper 1, signed on 4 December 2026.
OLD_LINKS = {
    "unsubscribe": "WzEsMF0.axLacQ.VmXOX3ajKmrZ0Ee_RuNDRKWElkM",
    "preferences": "WzEsMF0.axLacQ.yZslqwD94RBBnw4s7dRk5rwVq4Y",
    "more": "WzEsMCwxLDFd.axLacQ.tirglhzdwNUUkKUKTCw547tRU_8",
    "less": "WzEsMCwxLC0xXQ.axLacQ.eWiff0M3xDHQsx_ig2OettCMvw0",
}


def subscriber_one(site: Site, created_at: datetime) -> int:
    sid = add_subscriber(site)
    with transaction(site.engine) as session:
        row = session.get(SubscriberRow, sid)
        assert row is not None
        row.created_at = created_at
    assert sid == 1
    return sid


@both_databases
def test_links_sent_in_the_old_format_keep_working(site: Site) -> None:
    sid = subscriber_one(site, datetime(2026, 6, 1, tzinfo=UTC))
    paper = add_paper(site)
    assert paper == 1
    page = site.client.get(f"/preferences/{OLD_LINKS['preferences']}")
    assert page.status_code == 200
    assert "ada@example.org" in page.text
    assert site.client.get(f"/feedback/{OLD_LINKS['less']}").status_code == 200
    liked = site.client.get(f"/feedback/{OLD_LINKS['more']}")
    assert "More like this" in liked.text
    with transaction(site.engine) as session:
        assert [p.id for p in feedback_for(session, [sid])[sid].liked] == ["2601.00001"]
    changed = f"/feedback/{OLD_LINKS['more']}"
    form = {"csrf_token": site.csrf_token(changed), "vote": "none"}
    assert site.client.post(changed, data=form).status_code == 200
    with transaction(site.engine) as session:
        votes = feedback_for(session, [sid])[sid]
    assert (votes.liked, votes.disliked) == ([], [])
    one_click = site.client.post(f"/unsubscribe/{OLD_LINKS['unsubscribe']}")
    assert one_click.status_code == 200
    assert status_of(site, sid) == "unsubscribed"


def test_an_old_format_confirm_link_still_confirms_and_still_expires(site: Site) -> None:
    sid = add_subscriber(site, status="pending")
    old_code = URLSafeTimedSerializer(SECRET, salt="paper-digest/confirm")
    link = f"/confirm/{old_code.dumps([sid, 0])}"
    assert site.client.post(link, data={"csrf_token": site.csrf_token(link)}).status_code == 200
    assert status_of(site, sid) == "active"
    signer = cast(TimestampSigner, old_code.make_signer(old_code.salt))
    signer.get_timestamp = lambda: int((datetime.now(UTC) - timedelta(hours=73)).timestamp())  # type: ignore[method-assign]
    expired = signer.sign(old_code.dump_payload([sid, 0])).decode()
    assert site.client.get(f"/confirm/{expired}").status_code == 410


def test_old_format_links_never_reach_a_subscriber_created_after_them(site: Site) -> None:
    """Before ids were kept from coming back, subscriber 1 could be someone else by now."""
    subscriber_one(site, datetime.now(UTC))
    for name in ("preferences", "unsubscribe"):
        answer = site.client.get(f"/{name}/{OLD_LINKS[name]}")
        assert answer.status_code == 410
        assert "ada@example.org" not in answer.text
    assert site.client.post(f"/unsubscribe/{OLD_LINKS['unsubscribe']}").status_code == 410
    assert site.client.get(f"/feedback/{OLD_LINKS['more']}").status_code == 410
    assert status_of(site, 1) == "active"


def test_old_format_links_stop_when_the_address_signs_up_anew(site: Site) -> None:
    sid = subscriber_one(site, datetime(2026, 6, 1, tzinfo=UTC))
    site.client.post(f"/unsubscribe/{OLD_LINKS['unsubscribe']}")
    again = SubscriberInput(email="ada@example.org", topics=("proteins",), status="pending")
    with transaction(site.engine) as session:
        upsert_subscriber(
            session, again.validate(), default_timezone="UTC", default_send_at="07:00"
        )
    assert site.client.get(f"/preferences/{OLD_LINKS['preferences']}").status_code == 410
    assert status_of(site, sid) == "pending"
