"""`GET /healthz`: is the service doing its job? For load balancers, monitors and people.

200 with `"status": "ok"` when the database takes a write (a row inserted and rolled
back: a read-only or locked database answers reads), every source's latest scheduled fetch
succeeded (allowing an hour for it to run and retry) and the delivery tick ran in the last
five minutes; 503 with `"status": "stale"` (or `"error"` when the database cannot be
written, with `"database": {"status": "error", "problem": "read-only", "fix": "…"}`) and
the details otherwise:

    {"status": "ok", "checked_at": "…", "database": {"status": "ok"},
     "sources": {"arxiv-ai": {"status": "ok", "last_success": "…", "last_error": null}},
     "delivery": {"status": "ok", "last_tick": "…"}}

The app factory mounts `routes` and puts on `app.state` the settings, the engine and the
service's `Heartbeats` (what it ran, when; see `digest.service.heartbeats`), which this
route only reads; without heartbeats (a web-only process) delivery is reported as run
elsewhere and sources are judged by the database alone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digest.config import Settings, SourceSettings
from digest.errors import DatabaseUnavailable
from digest.schedule import previous_fire_time, source_trigger
from digest.store.papers import SourceState
from digest.store.service_state import database_problem, fetch_states

if TYPE_CHECKING:
    from digest.service.heartbeats import Heartbeats

log = logging.getLogger("digest.web")

FETCH_GRACE = timedelta(hours=1)
TICK_STALE_AFTER = timedelta(minutes=5)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def source_health(
    source: SourceSettings, state: SourceState | None, now: datetime, started_at: datetime | None
) -> dict[str, Any]:
    """One source's verdict: ok, pending (never fetched, service just started) or stale."""
    success = state.last_success_at if state else None
    due = previous_fire_time(source_trigger(source), now - FETCH_GRACE)
    just_started = started_at is not None and now - started_at < FETCH_GRACE
    if success is not None and (due is None or success >= due):
        status = "ok"
    elif success is None and (just_started or due is None):
        status = "pending"
    else:
        status = "stale"
    return {
        "status": status,
        "last_success": _iso(success),
        "last_attempt": _iso(state.last_attempt_at if state else None),
        "last_error": state.last_error if state else None,
    }


def delivery_health(beats: Heartbeats | None, now: datetime) -> dict[str, Any]:
    if beats is None or not beats.runs_delivery:
        return {"status": "elsewhere", "last_tick": None}
    last = beats.last_tick_at or beats.started_at
    status = "ok" if now - last <= TICK_STALE_AFTER else "stale"
    if beats.last_tick_error:
        status = "stale"
    return {"status": status, "last_tick": _iso(beats.last_tick_at), "error": beats.last_tick_error}


def database_health(problem: DatabaseUnavailable | None) -> dict[str, Any]:
    """The database's verdict: the problem's short name and its fix, but not where the
    database is (the full line, with the file or host, goes to the service's log)."""
    if problem is None:
        return {"status": "ok"}
    log.warning("health check: %s", problem, extra={"problem": problem.problem})
    return {"status": "error", "problem": problem.problem, "fix": problem.fix}


def health_report(
    settings: Settings, engine: Engine, beats: Heartbeats | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The whole /healthz body (blocking: it queries the database)."""
    now = now or datetime.now(UTC)
    problem = database_problem(engine)
    report: dict[str, Any] = {
        "status": "ok",
        "checked_at": _iso(now),
        "database": database_health(problem),
        "delivery": delivery_health(beats, now),
    }
    if problem:
        report["status"] = "error"
        return report
    states = fetch_states(engine)
    started = beats.started_at if beats else None
    report["sources"] = {
        source.name: source_health(source, states.get(source.name), now, started)
        for source in settings.sources
    }
    verdicts = [report["delivery"]["status"]] + [s["status"] for s in report["sources"].values()]
    if "stale" in verdicts:
        report["status"] = "stale"
    return report


async def healthz(request: Request) -> JSONResponse:
    """200 when everything is fresh, 503 (with the reason) when not."""
    state = request.app.state
    report = await run_in_threadpool(health_report, state.settings, state.engine, state.heartbeats)
    code = 200 if report["status"] == "ok" else 503
    return JSONResponse(report, status_code=code, headers={"Cache-Control": "no-store"})


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz")]
