"""Saving subscribers' profiles with their topics' sentence vectors (store → embed).

Every save of topics other than a sign-up (`signup`) comes through here: an operator's
`digest subscribers add --confirmed`, `update` and `import`, and the preferences page. The
profile is stored first, then each topic without a vector of the model is embedded and
stored, so the next digest finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from digest.config import Settings
from digest.pipeline.embed import Progress, remember_topics, remember_topics_quietly
from digest.rank.embed import SentenceModel
from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.imports import ImportPlan, apply_import, plan_import
from digest.store.signups import update_preferences
from digest.store.subscribers import SubscriberInput, get_subscriber, upsert_subscriber

TOPIC_CHUNK = 256  # topics embedded between two commits (and two progress reports)
SCHEDULE = ("frequency", "weekday", "feed_only")


def save_subscriber(
    settings: Settings, engine: Engine, model: SentenceModel, data: SubscriberInput
) -> tuple[Subscriber, bool]:
    """Add a subscriber, or update the one with the same address (`digest subscribers
    add`); the `[digest]` defaults fill in what `data` leaves out. True when added."""
    with transaction(engine) as session:
        subscriber, created = upsert_subscriber(
            session,
            data,
            default_timezone=settings.digest.default_timezone,
            default_send_at=settings.digest.default_send_at,
        )
    remember_topics(engine, model, subscriber.topics)
    return subscriber, created


def change_subscriber(
    engine: Engine, model: SentenceModel, email: str, changes: Mapping[str, Any]
) -> Subscriber:
    """Change only what `changes` gives of an existing subscriber (`digest subscribers
    update`): an empty value (None, or () for a list) keeps what is stored."""
    # How often and where digests go: None already means "unchanged" to SubscriberInput.
    schedule = {key: value for key, value in changes.items() if key in SCHEDULE}
    with transaction(engine) as session:
        current = get_subscriber(session, email)
        merged = {
            key: value if value not in (None, ()) else getattr(current, key)
            for key, value in changes.items()
            if key not in SCHEDULE
        }
        if merged.get("send_at") is current.send_at:
            merged["send_at"] = current.send_at.strftime("%H:%M")
        data = SubscriberInput(email=current.email, **merged, **schedule).validate()
        subscriber, _ = upsert_subscriber(
            session,
            data,
            default_timezone=current.timezone,
            default_send_at=current.send_at.strftime("%H:%M"),
        )
    remember_topics(engine, model, subscriber.topics)
    return subscriber


def import_subscribers(
    settings: Settings,
    engine: Engine,
    model: SentenceModel,
    rows: Sequence[SubscriberInput],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportPlan:
    """Import checked rows (`digest subscribers import`): all of them in one transaction,
    then the topics they brought, `TOPIC_CHUNK` at a time (`progress(done, total)` follows
    it). With `dry_run`, only what would change."""
    with transaction(engine) as session:
        plan = plan_import(session, rows)
        if dry_run:
            return plan
        apply_import(
            session,
            plan,
            default_timezone=settings.digest.default_timezone,
            default_send_at=settings.digest.default_send_at,
        )
    topics = [topic for data in (*plan.new, *plan.changed) for topic in data.topics]
    wanted = list(dict.fromkeys(topic for topic in topics if topic.strip()))
    if progress is not None:
        progress(0, len(wanted))
    for start in range(0, len(wanted), TOPIC_CHUNK):
        chunk = wanted[start : start + TOPIC_CHUNK]
        remember_topics(engine, model, chunk)
        if progress is not None:
            progress(start + len(chunk), len(wanted))
    return plan


def save_preferences(
    engine: Engine, model: SentenceModel, subscriber: Subscriber, profile: SubscriberInput
) -> Subscriber | None:
    """The preferences page's save (never the address); None when the link's subscriber is
    gone. A model that cannot load is logged, not shown: the delivery embeds the topic."""
    with transaction(engine) as session:
        saved = update_preferences(session, subscriber.id, subscriber.link_secret, profile)
    if saved is not None:
        remember_topics_quietly(engine, model, saved.topics)
    return saved
