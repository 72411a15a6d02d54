"""Where a delivery run ranks and renders: in a thread, or in helper processes.

Ranking and rendering are pure CPU work, and a Python process runs only one thread of it at
a time: done in a thread of the delivering process, they compete with the event loop that
talks SMTP and with the ledger's database thread. For a large run, `ProcessPreparer` starts
`digest.render_processes` helper processes instead; each opens its own database engine,
builds the day's paper index once and then turns claimed batches into finished emails
(`DigestComposer.prepare`), while the delivering process only claims, sends and records.
Small runs (the usual minute-by-minute tick) stay in a thread: starting a helper costs
about a second.

    preparer = preparer_for(settings, engine, now=now, rows=pending)
    with preparer:
        options = LoopOptions(..., prepare_parallel=preparer.parallel)
        await run_deliveries(engine, transport, preparer.prepare, options)

Helpers are started with `spawn` (no state inherited from the delivering process: no open
sockets, no threads, no locks), ignore SIGINT and SIGTERM (the delivering process decides
when to stop, and shuts them down), and exit at once when the delivering process dies,
however it dies.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing.connection import wait
from types import TracebackType
from typing import cast

from sqlalchemy import Engine

from digest.config import Settings
from digest.pipeline.compose import DigestComposer
from digest.rank.embed import SentenceModel
from digest.records import Claim, Item, OutgoingEmail, Prepared, UnsentStatus
from digest.store.engine import open_engine

PROCESS_THRESHOLD = 1000  # rows to deliver from which helper processes pay for their start

_composer: DigestComposer | None = None  # in a helper process: its composer


class Preparer(ABC):
    """Turns claimed batches into prepared messages; `parallel` batches at once."""

    parallel = 1

    @abstractmethod
    def prepare(self, claims: Sequence[Claim]) -> list[Prepared]:
        """The prepared messages of `claims`, in their order."""

    def close(self) -> None:
        return None

    def __enter__(self) -> Preparer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ThreadPreparer(Preparer):
    """Ranks and renders in the delivering process (the loop runs it in a thread)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        now: datetime,
        model: SentenceModel | None = None,
    ) -> None:
        self.composer = DigestComposer(settings, engine, now=now, model=model)

    def prepare(self, claims: Sequence[Claim]) -> list[Prepared]:
        return self.composer.prepare(claims)


class ProcessPreparer(Preparer):
    """Ranks and renders in `processes` helper processes, one batch each at a time, with
    a second batch queued for each."""

    def __init__(self, settings: Settings, *, now: datetime, processes: int) -> None:
        # Two batches per helper: the next one is already waiting when a helper finishes,
        # instead of being claimed and shipped only then while the helper idles.
        self.parallel = 2 * processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_helper,
            initargs=(settings, now),
        )

    def prepare(self, claims: Sequence[Claim]) -> list[Prepared]:
        """Blocks the calling thread (not the event loop) until a helper is done."""
        packed = self._pool.submit(_prepare_in_helper, list(claims)).result()
        by_id = {claim.delivery_id: claim for claim in claims}
        return [_unpack(by_id[entry[0]], entry) for entry in packed]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def preparer_for(
    settings: Settings,
    engine: Engine,
    *,
    now: datetime,
    rows: int,
    model: SentenceModel | None = None,
) -> Preparer:
    """Helper processes for a run of at least `PROCESS_THRESHOLD` rows (when configured),
    else the delivering process's own thread (which uses `model` to embed a topic that has
    no vector; helpers open the configured model themselves if they need to)."""
    processes = settings.digest.render_processes
    if processes > 0 and rows >= PROCESS_THRESHOLD:
        return ProcessPreparer(settings, now=now, processes=processes)
    return ThreadPreparer(settings, engine, now=now, model=model)


def _start_helper(settings: Settings, now: datetime) -> None:
    global _composer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    engine = open_engine(settings.database_url, lock_timeout=settings.database.lock_timeout)
    _composer = DigestComposer(settings, engine, now=now)
    _composer.index  # noqa: B018 - built once, before the first batch arrives


def _exit_with(sentinel: int) -> None:
    """Wait until the delivering process is gone, then leave at once."""
    wait([sentinel])
    os._exit(1)


def _prepare_in_helper(claims: list[Claim]) -> list[_Packed]:
    if _composer is None:
        raise RuntimeError("helper process was not initialised")
    return [_pack(prepared) for prepared in _composer.prepare(claims)]


# A prepared row as plain tuples: a tenth of the cost of unpickling the records themselves,
# paid in the delivering process for every message. The claim stays on the sending side.
_Email = tuple[str, str, str, str, bytes, dict[str, str], bool]
_Packed = tuple[
    int, _Email | None, tuple[tuple[int, float, str, str | None], ...], str | None, UnsentStatus
]


def _pack(prepared: Prepared) -> _Packed:
    email = prepared.email
    wire: _Email | None = None
    if email is not None:
        envelope = (email.to, email.envelope_from, email.subject, email.message_id)
        wire = (*envelope, email.data, email.headers, email.crlf)
    # Plain tuples, remade into `Item`s on the other side: half the cost of pickling them.
    items = cast(tuple[tuple[int, float, str, str | None], ...], tuple(map(tuple, prepared.items)))
    return (prepared.claim.delivery_id, wire, items, prepared.skip_reason, prepared.status)


def _unpack(claim: Claim, packed: _Packed) -> Prepared:
    _, wire, items, skip_reason, status = packed
    return Prepared(
        claim,
        None if wire is None else OutgoingEmail(*wire),
        tuple(map(Item._make, items)),
        skip_reason,
        status,
    )
