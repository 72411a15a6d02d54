"""Composing: one subscriber's digest from the store as it is now (store → rank → render).

`compose_digest` is `digest preview`'s digest: ranked with the stored sentence vectors,
nothing sent or recorded. The delivery composes claimed batches with the same
`DigestComposer`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine

from digest.composer import DigestComposer
from digest.config import Settings
from digest.records import Digest
from digest.send.due import end_of_local_day, local_date
from digest.store.engine import transaction
from digest.store.subscribers import get_subscriber


def compose_digest(
    settings: Settings,
    engine: Engine,
    email: str,
    digest_date: date | None = None,
    *,
    now: datetime | None = None,
) -> Digest:
    """The digest `email` would get for `digest_date` (default: today where they live),
    from the database as it is now; nothing is sent or recorded (`digest preview`)."""

    with transaction(engine) as session:
        subscriber = get_subscriber(session, email)
    now = now or datetime.now(UTC)
    day = digest_date or local_date(now, subscriber.timezone)
    moment = min(now, end_of_local_day(day, subscriber.timezone) - timedelta(seconds=1))
    if digest_date is not None and digest_date < local_date(now, subscriber.timezone):
        moment = datetime.combine(day, time(23, 59), tzinfo=UTC)
    return DigestComposer(settings, engine, now=moment).digests([(subscriber, day)])[0]
