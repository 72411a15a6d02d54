"""Fetching: the configured sources → the store → sentence vectors for the new papers.

`fetch_all` pulls every configured source (or some) concurrently, stores what each yields
with its HTTP validators and back-off state, and then embeds the papers a digest can pick
that have no vector yet. `digest fetch` and the service's fetch jobs call it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from digest.config import Settings, SourceSettings
from digest.errors import DatabaseUnavailable, UsageError
from digest.pipeline.embed import Progress, embed_after_fetch
from digest.rank.embed import SentenceModel
from digest.records import SourceReport
from digest.sources.fetch import Politeness, SourceFetch, fetch_source
from digest.sources.http import Validators
from digest.store.engine import transaction
from digest.store.papers import (
    SourceState,
    get_source_state,
    ingest_entries,
    put_source_state,
)

LOG = logging.getLogger("digest.fetch")


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
