"""`/healthz`: 200 when the database answers and fetching and delivery are fresh, 503 when not.

The app `create_app` builds, given the service's heartbeats, is served by a real uvicorn
server on 127.0.0.1 and read over HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from digest.config import Settings, SourceSettings
from digest.send.transport import make_transport
from digest.service.heartbeats import Heartbeats
from digest.store.engine import open_engine, transaction
from digest.store.papers import SourceState, put_source_state
from digest.web import create_app
from digest.web.health import health_report

HF = SourceSettings(name="hf", kind="hf-daily", url="https://hf.co/api/daily_papers", every="2h")


class LocalServer:
    """A Starlette app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Starlette) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("test web server did not start")
            threading.Event().wait(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def with_hf(settings: Settings) -> Settings:
    return settings.model_copy(update={"sources": [HF]})


def record_fetch(engine: Engine, *, success: datetime | None, error: str | None = None) -> None:
    with transaction(engine) as session:
        attempt = datetime.now(UTC)
        put_source_state(
            session,
            SourceState("hf", last_attempt_at=attempt, last_success_at=success, last_error=error),
        )


def get_health(settings: Settings, engine: Engine, beats: Heartbeats | None) -> httpx.Response:
    app = create_app(settings, engine, make_transport(settings), heartbeats=beats)
    with LocalServer(app) as base, httpx.Client(base_url=base) as client:
        return client.get("/healthz")


def test_a_fresh_service_is_healthy_while_its_first_fetch_is_pending(
    with_hf: Settings, engine: Engine
) -> None:
    beats = Heartbeats(runs_delivery=True, runs_fetch=True)
    response = get_health(with_hf, engine, beats)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok"}
    assert body["sources"]["hf"]["status"] == "pending"
    assert response.headers["cache-control"] == "no-store"


def test_recent_fetch_and_tick_are_ok(with_hf: Settings, engine: Engine) -> None:
    now = datetime.now(UTC)
    record_fetch(engine, success=now - timedelta(minutes=30))
    beats = Heartbeats(runs_delivery=True, runs_fetch=True)
    beats.ticked(now - timedelta(seconds=50))
    body = get_health(with_hf, engine, beats).json()
    assert body["status"] == "ok"
    assert body["sources"]["hf"]["status"] == "ok"
    assert body["delivery"]["status"] == "ok"


def test_a_source_that_missed_its_schedule_is_stale(with_hf: Settings, engine: Engine) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=5)
    record_fetch(engine, success=long_ago, error="HTTP 503 from hf.co")
    beats = Heartbeats(started_at=long_ago, runs_delivery=True, runs_fetch=True)
    beats.ticked(datetime.now(UTC))
    response = get_health(with_hf, engine, beats)
    assert response.status_code == 503
    source = response.json()["sources"]["hf"]
    assert source["status"] == "stale"
    assert source["last_error"] == "HTTP 503 from hf.co"


def test_a_delivery_tick_that_stopped_running_is_stale(settings: Settings, engine: Engine) -> None:
    beats = Heartbeats(started_at=datetime.now(UTC) - timedelta(hours=1), runs_delivery=True)
    beats.ticked(datetime.now(UTC) - timedelta(minutes=10))
    response = get_health(settings, engine, beats)
    assert response.status_code == 503
    assert response.json()["delivery"]["status"] == "stale"


def test_a_failing_delivery_tick_is_stale(settings: Settings, engine: Engine) -> None:
    beats = Heartbeats(runs_delivery=True)
    beats.ticked(datetime.now(UTC), "OperationalError: disk I/O error")
    assert get_health(settings, engine, beats).status_code == 503


def test_a_web_only_process_reports_delivery_as_elsewhere(
    settings: Settings, engine: Engine
) -> None:
    response = get_health(settings, engine, None)
    assert response.status_code == 200
    assert response.json()["delivery"] == {"status": "elsewhere", "last_tick": None}


def test_an_unreachable_database_is_an_error_without_credentials(settings: Settings) -> None:
    engine = open_engine("postgresql://digest:hunter2@127.0.0.1:1/digest")
    try:
        response = get_health(settings, engine, Heartbeats())
    finally:
        engine.dispose()
    assert response.status_code == 503
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["database"]["status"] == "error"
    assert "hunter2" not in response.text


def test_the_report_names_every_configured_source(with_hf: Settings, engine: Engine) -> None:
    more = with_hf.model_copy(
        update={"sources": [HF, SourceSettings(name="blog", kind="rss", url="https://x.org/f")]}
    )
    report = health_report(more, engine, Heartbeats())
    assert set(report["sources"]) == {"hf", "blog"}
