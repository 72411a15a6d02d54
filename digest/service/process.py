"""One service process, behind `digest serve` and `digest worker`.

One asyncio loop runs, as configured by `Roles`:

- the web app under uvicorn (uvicorn's own signal handling is switched off: this module
  owns SIGTERM and SIGINT),
- the scheduler (`digest.schedule`): source fetches, the delivery tick, housekeeping,
- the inbound mail listener (bounces, mailto unsubscribes) when `[inbound] host` is set.

Start-up: web first, then a catch-up fetch of every source whose scheduled fetch was missed
while the service was down, then the delivery tick (so the morning's digests are built
from the evening's papers). READY goes to systemd once the web port listens.

Stop (SIGTERM, SIGINT): STOPPING to systemd; fetches are cancelled (they are idempotent);
the delivery tick is told to stop via `stop=` and finishes the messages in flight, for at
most `jobs.STOP_GRACE` (20) seconds, leaving the rest queued; then the web server
and the listener close. The whole stop stays well inside systemd's 30 s default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from digest.config import Settings
from digest.errors import ConfigError
from digest.notify import Notifier
from digest.pipeline.embed import configured_model
from digest.rank.embed import SentenceModel
from digest.schedule import Jobs, add_jobs, new_scheduler, next_fetches
from digest.send.loop import new_worker_id
from digest.send.transport import Transport, make_transport
from digest.service.heartbeats import Heartbeats
from digest.service.jobs import DeliveryJobs, FetchJobs, Housekeeping, RunningJobs
from digest.store import service_state

log = logging.getLogger(__name__)

WEB_STOP_GRACE = 5.0
STATUS_EVERY = 60.0
USER_AGENT = "paper-digest (+https://github.com/paper-digest)"


@dataclass(frozen=True, slots=True)
class Roles:
    """What this process does. `digest serve` runs all; `digest worker` only delivers."""

    web: bool = True
    fetch: bool = True
    deliver: bool = True
    housekeeping: bool = True
    inbound: bool = True

    @classmethod
    def worker(cls) -> Roles:
        return cls(web=False, fetch=False, deliver=True, housekeeping=False, inbound=False)

    def describe(self) -> str:
        names = ("web", "fetch", "deliver", "housekeeping", "inbound")
        return ",".join(name for name in names if getattr(self, name)) or "nothing"


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the service decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Service:
    """One running service process; `await run()` returns after a clean stop."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        roles: Roles = Roles(),
        *,
        notifier: Notifier | None = None,
        worker_id: str | None = None,
        transport: Transport | None = None,
        http_client: httpx.AsyncClient | None = None,
        model: SentenceModel | None = None,
    ) -> None:
        self.settings = settings
        self.model = model or configured_model(settings)
        self.engine = engine
        self.roles = roles
        self.notifier = notifier or Notifier.from_environment()
        self.worker_id = worker_id or new_worker_id()
        self.heartbeats = Heartbeats(runs_delivery=roles.deliver, runs_fetch=roles.fetch)
        self.stopping = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._transport = transport
        self._client = http_client
        self.running = RunningJobs(self.stopping)
        self._scheduler: AsyncIOScheduler | None = None
        self._web: _QuietServer | None = None
        self._web_task: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []
        self.web_port: int | None = None

    # -- lifecycle -------------------------------------------------------------------

    def request_stop(self, reason: str = "requested") -> None:
        """Begin a graceful stop; a second request cancels what is still running."""
        if not self._stop_requested.is_set():
            log.info("stopping", extra={"reason": reason})
            self._stop_requested.set()
            return
        if self.running.tasks:  # asked twice: do not wait for messages in flight
            log.warning("stopping now; unfinished sends will be checked on the next start")
            self.running.cancel()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, signal.Signals(sig).name)
        try:
            async with AsyncExitStack() as stack:
                await self._start(stack)
                await self._stop_requested.wait()
                self.notifier.stopping("stopping: finishing messages in flight")
                await self._shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("stopped")

    async def _start(self, stack: AsyncExitStack) -> None:
        log.info("starting", extra={"roles": self.roles.describe(), "worker_id": self.worker_id})
        transport = self._transport
        if transport is None:
            transport = make_transport(self.settings)
            stack.push_async_callback(transport.close)
        client = self._client
        if client is None and self.roles.fetch:
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0), headers={"User-Agent": USER_AGENT}
            )
            stack.push_async_callback(client.aclose)
        if self.roles.web:
            await self._start_web(transport)
        if self.roles.inbound and self.settings.inbound.host:
            await self._start_inbound(stack, transport)
        fetching = self._start_scheduler(transport, client)
        self.notifier.ready(await self.status_line())
        self._spawn(self._status_loop())
        if self.notifier.watchdog_interval:
            self._spawn(self._watchdog_loop(self.notifier.watchdog_interval / 2))
        if fetching is not None:
            self._spawn(fetching.catch_up())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._background.append(asyncio.create_task(coro))

    async def _shutdown(self) -> None:
        self.stopping.set()
        if self._scheduler is not None:
            # Pause, not shut down: shutting down cancels the running jobs' tasks.
            self._scheduler.pause()
        for task in self._background:
            task.cancel()
        await self.running.finish()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        await self._stop_web()

    # -- web and inbound mail ----------------------------------------------------------

    async def _start_web(self, transport: Transport) -> None:
        from digest.web import create_app

        app = create_app(
            self.settings, self.engine, transport, model=self.model, heartbeats=self.heartbeats
        )
        config = uvicorn.Config(
            app,
            host=self.settings.web.host,
            port=self.settings.web.port,
            log_config=None,
            proxy_headers=True,
            server_header=False,
            timeout_graceful_shutdown=int(WEB_STOP_GRACE),
            lifespan="auto",
        )
        self._web = _QuietServer(config)
        self._web_task = asyncio.create_task(self._serve_web(self._web))
        while not self._web.started:
            if self._web_task.done():
                await self._web_task
                raise ConfigError(self._cannot_listen())
            await asyncio.sleep(0.02)
        sockets = [sock for server in self._web.servers for sock in server.sockets]
        self.web_port = sockets[0].getsockname()[1] if sockets else self.settings.web.port
        log.info(
            "web listening",
            extra={"address": f"http://{self.settings.web.host}:{self.web_port}"},
        )

    def _cannot_listen(self) -> str:
        web = self.settings.web
        return (
            f"web.host/web.port: cannot listen on {web.host}:{web.port} (in use, or not an "
            "address of this machine); change [web] port or stop the other process"
        )

    async def _serve_web(self, server: _QuietServer) -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind; report it as an error
            if server.started:
                raise
            log.error("web server failed to start", extra={"port": self.settings.web.port})

    async def _stop_web(self) -> None:
        if self._web is None or self._web_task is None:
            return
        self._web.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._web_task), WEB_STOP_GRACE + 1)
        except TimeoutError:
            self._web.force_exit = True
            await asyncio.wait({self._web_task}, timeout=1.0)

    async def _start_inbound(self, stack: AsyncExitStack, transport: Transport) -> None:
        from digest.send.inbound import InboundListener
        from digest.web.mail_signup import SubscribeByEmail

        subscribe = None
        if self.settings.mail.subscribe_address:
            subscribe = SubscribeByEmail(self.settings, self.engine, transport, model=self.model)
        listener = InboundListener(self.settings, self.engine, subscribe)
        host, port = listener.address
        try:
            listener.start()  # on this thread: subscribe-by-email runs on this event loop
        except (OSError, RuntimeError) as exc:
            raise ConfigError(
                f"inbound.host/inbound.port: cannot listen for mail on {host}:{port} ({exc}); "
                "change [inbound] port or stop the other process"
            ) from None
        stack.callback(listener.stop)
        log.info(
            "inbound mail listening",
            extra={"address": f"{host}:{port}", "subscribe_by_email": subscribe is not None},
        )

    # -- scheduled jobs ----------------------------------------------------------------

    def _start_scheduler(
        self, transport: Transport, client: httpx.AsyncClient | None
    ) -> FetchJobs | None:
        """Build this process's jobs, schedule and start them; the fetch jobs, if any."""
        scheduler = new_scheduler()
        settings, engine, running = self.settings, self.engine, self.running
        fetching = None
        if self.roles.fetch and client is not None:
            fetching = FetchJobs(
                settings, engine, client, scheduler, running=running, model=self.model
            )
        delivering = DeliveryJobs(
            settings,
            engine,
            transport,
            running=running,
            heartbeats=self.heartbeats,
            worker_id=self.worker_id,
            model=self.model,
        )
        jobs = Jobs(
            fetch=fetching.fetch_sources if fetching is not None else None,
            deliver=delivering.delivery_tick if self.roles.deliver else None,
            housekeeping=(
                Housekeeping(settings, engine, running=running).run
                if self.roles.housekeeping
                else None
            ),
        )
        add_jobs(scheduler, settings.sources, jobs, deliver_now=fetching is None)
        self._scheduler = scheduler
        scheduler.start()
        for name, when in next_fetches(scheduler):
            log.info(
                "fetch scheduled",
                extra={"source": name, "next_run": when.isoformat(timespec="minutes")},
            )
        return fetching

    # -- telling systemd how it goes -----------------------------------------------------

    async def status_line(self) -> str:
        """E.g. "next fetch arxiv-ai Sun 20:30 EDT; 1,204 active subscribers; 3 queued"."""
        parts = []
        if self._scheduler is not None and (upcoming := next_fetches(self._scheduler)):
            name, when = upcoming[0]
            parts.append(f"next fetch {name} {when.astimezone().strftime('%a %H:%M %Z')}")
        try:
            active = await asyncio.to_thread(service_state.active_subscriber_count, self.engine)
            queued = await asyncio.to_thread(service_state.queued_delivery_count, self.engine)
        except Exception as exc:  # the status line must never take the service down
            parts.append(f"database unavailable ({type(exc).__name__})")
        else:
            parts.append(f"{active:,} active subscribers")
            parts.append(f"{queued:,} deliveries queued")
        if self.heartbeats.last_tick_at is not None:
            parts.append(f"last tick {self.heartbeats.last_tick_at.strftime('%H:%M UTC')}")
        if self.web_port is not None:
            parts.append(f"web :{self.web_port}")
        return "; ".join(parts)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY)
            self.notifier.status(await self.status_line())

    async def _watchdog_loop(self, every: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(every)


async def run_service(
    settings: Settings,
    engine: Engine,
    roles: Roles = Roles(),
    *,
    worker_id: str | None = None,
    notifier: Notifier | None = None,
    model: SentenceModel | None = None,
) -> None:
    """Run the service until SIGTERM/SIGINT, then stop gracefully."""
    service = Service(settings, engine, roles, worker_id=worker_id, notifier=notifier, model=model)
    await service.run()
