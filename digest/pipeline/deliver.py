"""Delivering: the digests that are due, claim → prepare → send → record.

`deliver_due` recovers a dead worker's rows, queues the due digests in the ledger and runs
the delivery loop (`digest.send.loop`) with a preparer that ranks and renders each claimed
batch (`digest.pipeline.preparers`: in a thread, or in helper processes for a large run).
`digest send`, the service's delivery tick and `digest worker` call it; `--dry-run` composes
and renders what would be sent, and records nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from digest.config import Settings
from digest.pipeline.compose import DigestComposer
from digest.pipeline.preparers import preparer_for
from digest.rank.embed import SentenceModel
from digest.records import Subscriber
from digest.send.due import due_groups
from digest.send.loop import (
    DeliveryReport,
    LoopOptions,
    new_worker_id,
    recover,
    run_deliveries,
)
from digest.send.transport import Transport
from digest.store import queueing
from digest.store.delivery_reads import pending_count
from digest.store.engine import transaction
from digest.store.subscribers import get_subscriber


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
    with transaction(engine) as session:
        total = pending_count(
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
            fate = composer.fate(digest)
            if fate == "mailed":
                composer.renderer.render_digest(digest, now=composer.now)
                report.sent += 1
            elif fate == "published":
                report.published += 1
            else:
                report.skipped_empty += 1
        if progress is not None:
            progress(report)
    return report
