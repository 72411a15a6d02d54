"""The one place that chains the stages: sources → store → rank → render → send.

`fetch_all` pulls the configured sources into the store; `deliver_due` delivers the digests
that are due. The scheduler, the CLI and the web pages call these; nothing else chains stages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from digest.composer import DigestComposer
from digest.config import Settings, SourceSettings
from digest.embedding import Progress, embed_after_fetch, remember_topics_quietly
from digest.errors import DatabaseUnavailable, UsageError
from digest.preparers import preparer_for
from digest.rank.embed import SentenceModel
from digest.records import Digest, SourceReport, Subscriber
from digest.render.renderer import Renderer
from digest.send.due import due_groups, end_of_local_day, local_date
from digest.send.loop import (
    DeliveryReport,
    LoopOptions,
    new_worker_id,
    recover,
    run_deliveries,
)
from digest.send.transport import Transport
from digest.sources.fetch import Politeness, SourceFetch, fetch_source
from digest.sources.http import Validators
from digest.store import deliveries as ledger
from digest.store import queueing
from digest.store.engine import transaction
from digest.store.papers import (
    SourceState,
    get_source_state,
    ingest_entries,
    put_source_state,
)
from digest.store.signups import Signup, begin_signup, undo_signup
from digest.store.subscribers import SubscriberInput, get_subscriber

LOG = logging.getLogger("digest.fetch")
# Queueing at least this many rows refreshes the planner statistics of the ledger.
STATISTICS_AFTER = 1000


async def request_confirmation(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    data: SubscriberInput,
    *,
    ip: str | None = None,
    renderer: Renderer | None = None,
    model: SentenceModel | None = None,
) -> str:
    """Start the double opt-in: store the address as pending (with a `model`, its topics'
    sentence vectors too) and mail a confirmation link.

    Used by the web form, `digest subscribers add` and subscribing by email. Returns what
    happened: "sent", "active" (already subscribed: nothing changes, nothing is sent),
    "throttled" (three confirmations already went to this address in the last day) or
    "suppressed" (the address bounced or complained). Callers must not show the difference
    to the public. When the email cannot be sent, the sign-up is taken back and the
    TransportError raised, so nothing is left half-way.
    """

    data = data.validate()
    now = datetime.now(UTC)

    def begin() -> Signup:
        with transaction(engine) as session:
            return begin_signup(
                session,
                data,
                default_timezone=settings.digest.default_timezone,
                default_send_at=settings.digest.default_send_at,
                ip=ip,
                now=now,
            )

    def undo(signup: Signup) -> None:
        with transaction(engine) as session:
            undo_signup(session, signup, sent_at=now)

    signup = await asyncio.to_thread(begin)
    if signup.action != "send" or signup.subscriber is None:
        return signup.action
    if model is not None:
        await asyncio.to_thread(remember_topics_quietly, engine, model, data.topics)
    try:
        email = (renderer or Renderer(settings)).render_confirmation(signup.subscriber, now=now)
        await transport.send(email)
    except UnicodeEncodeError:
        await asyncio.to_thread(undo, signup)
        raise UsageError(
            f"{data.email} has non-ASCII letters before the @, which the mail transport "
            "cannot send to; use an ASCII address"
        ) from None
    except BaseException:
        await asyncio.to_thread(undo, signup)
        raise
    return "sent"


# --- sources → store -------------------------------------------------------------------


async def fetch_all(
    settings: Settings,
    engine: Engine,
    client: httpx.AsyncClient,
    *,
    only: Sequence[str] = (),
    now: datetime | None = None,
    politeness: Politeness | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
    model: SentenceModel | None = None,
    on_embedding: Progress | None = None,
) -> list[SourceReport]:
    """Fetch the configured sources (or those named in `only`) concurrently and store them;
    then, with a `model`, embed the papers a digest can pick that have no vector yet
    (`on_embedding(done, total)` follows it). `on_report` is called with each source's
    report as soon as that source is done.

    One report per source, in configuration order. A source that fails never stops the
    others; what it did yield before failing is stored. A source whose server asked us to
    back off (Retry-After) is skipped until then. UsageError for an unknown source name.
    """

    configured = {source.name: source for source in settings.sources}
    unknown = [name for name in only if name not in configured]
    if unknown:
        names = ", ".join(configured) or "none"
        raise UsageError(f"no source named {unknown[0]!r} (configured: {names})")
    chosen = [configured[name] for name in dict.fromkeys(only)] if only else settings.sources
    contact = settings.mail.from_address if "@localhost" not in settings.mail.from_address else None
    polite = politeness or Politeness(contact=contact)
    moment = now or datetime.now(UTC)

    async def run(source: SourceSettings) -> SourceReport:
        report = await _fetch_and_store(source, engine, client, now=moment, politeness=polite)
        if on_report is not None:
            on_report(report)
        return report

    reports = list(await asyncio.gather(*(run(source) for source in chosen)))
    if model is not None:
        await embed_after_fetch(engine, model, now=moment, progress=on_embedding)
    return reports


async def _fetch_and_store(
    source: SourceSettings,
    engine: Engine,
    client: httpx.AsyncClient,
    *,
    now: datetime,
    politeness: Politeness,
) -> SourceReport:

    try:
        state = await asyncio.to_thread(_source_state, engine, source.name)
        if state.next_allowed_at is not None and now < state.next_allowed_at:
            until = state.next_allowed_at.strftime("%Y-%m-%d %H:%M UTC")
            return SourceReport(
                source.name, error=f"server asked us to wait; skipped until {until}"
            )
        validators = {url: Validators(*pair) for url, pair in state.validators.items()}
        fetched = await fetch_source(
            source, client, validators=validators, today=now.date(), politeness=politeness
        )
        return await asyncio.to_thread(_store_fetch, engine, source.name, fetched, state, now)
    except DatabaseUnavailable:
        raise  # not this source's fault: the whole fetch stops with the database's reason
    except Exception as exc:  # one broken source must never stop the others
        LOG.exception("fetching source %s failed", source.name)
        return SourceReport(source.name, error=f"unexpected error: {type(exc).__name__}: {exc}")


def _source_state(engine: Engine, name: str) -> SourceState:

    with transaction(engine) as session:
        return get_source_state(session, name)


def _store_fetch(
    engine: Engine, name: str, fetched: SourceFetch, state: SourceState, now: datetime
) -> SourceReport:

    error = fetched.error
    # After trouble the old validators stay, so that the next run reads everything again.
    validators = (
        {url: (v.etag, v.last_modified) for url, v in fetched.validators.items()}
        if not error
        else state.validators
    )
    wait = fetched.retry_after
    with transaction(engine) as session:
        counts = ingest_entries(session, fetched.entries, now=now)
        put_source_state(
            session,
            replace(
                state,
                validators=validators,
                last_attempt_at=now,
                last_success_at=state.last_success_at if error else now,
                last_error=error,
                next_allowed_at=now + timedelta(seconds=wait) if wait else None,
            ),
        )
    return SourceReport(
        name,
        fetched=len(fetched.entries),
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
        error=error,
        not_modified=fetched.not_modified,
    )


# --- store → rank → render → send ------------------------------------------------------


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


async def deliver_due(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    *,
    now: datetime | None = None,
    worker_id: str | None = None,
    only: str | None = None,
    dry_run: bool = False,
    stop: asyncio.Event | None = None,
    all_subscribers: bool = False,
    digest_date: date | None = None,
    progress: Callable[[DeliveryReport], None] | None = None,
    batch_size: int = 250,
    model: SentenceModel | None = None,
) -> DeliveryReport:
    """Deliver the digests that are due (see digest/send/loop.py for the states).

    Recovers a dead worker's in-flight rows, queues every active subscriber whose local send
    time has passed today (`all_subscribers`: whatever the hour; `digest_date`: for that
    local date; `only`: one address), then delivers all claimable rows. `dry_run` ranks and
    renders what would be sent, and writes and sends nothing.
    """

    moment = now or datetime.now(UTC)
    worker = worker_id or new_worker_id()
    report = DeliveryReport(dry_run=dry_run)
    subscriber_id = await asyncio.to_thread(_subscriber_id, engine, only)
    queued = await asyncio.to_thread(
        _queue, engine, moment, worker, subscriber_id, all_subscribers, digest_date, dry_run
    )
    if dry_run:
        composer = DigestComposer(settings, engine, now=moment, model=model)
        return await asyncio.to_thread(_dry_run, composer, queued, report, progress)
    report.recovered, report.queued, report.total = queued
    preparer = await asyncio.to_thread(
        preparer_for, settings, engine, now=moment, rows=report.total, model=model
    )
    options = LoopOptions(
        worker_id=worker,
        batch_size=batch_size,
        concurrency=settings.smtp.max_connections,
        prepare_parallel=preparer.parallel,
        subscriber_id=subscriber_id,
        digest_date=digest_date,
        clock=(lambda: moment) if now is not None else (lambda: datetime.now(UTC)),
    )
    try:
        return await run_deliveries(
            engine,
            transport,
            preparer.prepare,
            options,
            stop=stop,
            progress=progress,
            report=report,
        )
    finally:
        await asyncio.to_thread(preparer.close)


def _subscriber_id(engine: Engine, only: str | None) -> int | None:

    if only is None:
        return None
    with transaction(engine) as session:
        return get_subscriber(session, only).id


def _queue(
    engine: Engine,
    now: datetime,
    worker: str,
    subscriber_id: int | None,
    all_subscribers: bool,
    digest_date: date | None,
    dry_run: bool,
) -> Any:

    with transaction(engine) as session:
        groups = queueing.send_groups(session, subscriber_id=subscriber_id)
        due = due_groups(groups, now, ignore_send_time=all_subscribers, on=digest_date)
        if dry_run:
            return queueing.due_without_row(session, due, subscriber_id=subscriber_id)
    recovered = recover(engine, worker_id=worker, now=now).unknown
    with transaction(engine) as session:
        queued = queueing.queue_due(session, due, now=now, subscriber_id=subscriber_id)
    if queued >= STATISTICS_AFTER:
        with transaction(engine) as session:
            ledger.refresh_statistics(session)
    with transaction(engine) as session:
        total = ledger.pending_count(
            session, now=now, subscriber_id=subscriber_id, digest_date=digest_date
        )
    return recovered, queued, total


def _dry_run(
    composer: DigestComposer,
    due: list[tuple[Subscriber, date]],
    report: DeliveryReport,
    progress: Callable[[DeliveryReport], None] | None,
) -> DeliveryReport:
    report.total = len(due)
    for start in range(0, len(due), 250):
        digests = composer.digests(due[start : start + 250])
        for digest in digests:
            if digest.picks and digest.subscriber.feed_only:
                report.published += 1
            elif digest.picks or not composer.settings.digest.skip_when_empty:
                composer.renderer.render_digest(digest, now=composer.now)
                report.sent += 1
            else:
                report.skipped_empty += 1
        if progress is not None:
            progress(report)
    return report
