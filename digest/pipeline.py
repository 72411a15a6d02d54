"""The one place that chains the stages: sources → store → rank → render → send.

`fetch_all` pulls the configured sources into the store; `deliver_due` delivers the digests
that are due. The scheduler, the CLI and the web pages call these; nothing else chains stages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the sign-up section imports these where it runs
    from collections.abc import Sequence
    from datetime import datetime

    import httpx
    from sqlalchemy import Engine

    from digest.config import Settings, SourceSettings
    from digest.records import SourceReport
    from digest.render.renderer import Renderer
    from digest.send.transport import Transport
    from digest.sources.fetch import Politeness, SourceFetch
    from digest.store.papers import SourceState
    from digest.store.signups import Signup
    from digest.store.subscribers import SubscriberInput


async def request_confirmation(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    data: SubscriberInput,
    *,
    ip: str | None = None,
    renderer: Renderer | None = None,
) -> str:
    """Start the double opt-in: store the address as pending and mail a confirmation link.

    Used by the web form, `digest subscribers add` and subscribing by email. Returns what
    happened: "sent", "active" (already subscribed: nothing changes, nothing is sent),
    "throttled" (three confirmations already went to this address in the last day) or
    "suppressed" (the address bounced or complained). Callers must not show the difference
    to the public. When the email cannot be sent, the sign-up is taken back and the
    TransportError raised, so nothing is left half-way.
    """
    import asyncio
    from datetime import UTC, datetime

    from digest.render.renderer import Renderer
    from digest.store.engine import transaction
    from digest.store.signups import begin_signup, undo_signup

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
    try:
        email = (renderer or Renderer(settings)).render_confirmation(signup.subscriber, now=now)
        await transport.send(email)
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
) -> list[SourceReport]:
    """Fetch the configured sources (or those named in `only`) concurrently and store them.

    One report per source, in configuration order. A source that fails never stops the
    others; what it did yield before failing is stored. A source whose server asked us to
    back off (Retry-After) is skipped until then. UsageError for an unknown source name.
    """
    import asyncio
    from datetime import UTC, datetime

    from digest.errors import UsageError
    from digest.sources.fetch import Politeness

    configured = {source.name: source for source in settings.sources}
    unknown = [name for name in only if name not in configured]
    if unknown:
        names = ", ".join(configured) or "none"
        raise UsageError(f"no source named {unknown[0]!r} (configured: {names})")
    chosen = [configured[name] for name in dict.fromkeys(only)] if only else settings.sources
    contact = settings.mail.from_address if "@localhost" not in settings.mail.from_address else None
    polite = politeness or Politeness(contact=contact)
    moment = now or datetime.now(UTC)
    runs = (_fetch_and_store(s, engine, client, now=moment, politeness=polite) for s in chosen)
    return list(await asyncio.gather(*runs))


async def _fetch_and_store(
    source: SourceSettings,
    engine: Engine,
    client: httpx.AsyncClient,
    *,
    now: datetime,
    politeness: Politeness,
) -> SourceReport:
    import asyncio
    import logging

    from digest.records import SourceReport
    from digest.sources.fetch import fetch_source
    from digest.sources.http import Validators

    log = logging.getLogger("digest.fetch")
    try:
        state = await asyncio.to_thread(_source_state, engine, source.name)
        if state.next_allowed_at is not None and now < state.next_allowed_at:
            until = state.next_allowed_at.strftime("%Y-%m-%d %H:%M UTC")
            return SourceReport(
                source.name, error=f"server asked us to wait; skipped until {until}"
            )
        validators = Validators(state.etag, state.last_modified)
        fetched = await fetch_source(
            source, client, validators=validators, today=now.date(), politeness=politeness
        )
        return await asyncio.to_thread(_store_fetch, engine, source.name, fetched, state, now)
    except Exception as exc:  # one broken source must never stop the others
        log.exception("fetching source %s failed", source.name)
        return SourceReport(source.name, error=f"unexpected error: {type(exc).__name__}: {exc}")


def _source_state(engine: Engine, name: str) -> SourceState:
    from digest.store.engine import transaction
    from digest.store.papers import get_source_state

    with transaction(engine) as session:
        return get_source_state(session, name)


def _store_fetch(
    engine: Engine, name: str, fetched: SourceFetch, state: SourceState, now: datetime
) -> SourceReport:
    from dataclasses import replace
    from datetime import timedelta

    from digest.records import SourceReport
    from digest.store.engine import transaction
    from digest.store.papers import ingest_entries, put_source_state

    error = fetched.error
    validators = fetched.validators
    wait = fetched.retry_after
    with transaction(engine) as session:
        counts = ingest_entries(session, fetched.entries, now=now)
        put_source_state(
            session,
            replace(
                state,
                etag=validators.etag if validators and not error else state.etag,
                last_modified=validators.last_modified
                if validators and not error
                else state.last_modified,
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
