"""Spacing calls in time: at most one call per interval for each key, across every task and
thread.

The sources keep to one request every 3 seconds for each arXiv host (the key is the host);
the SMTP transport to `smtp.rate_per_second` messages a second (one key). Each caller
reserves the next free slot for its key, then sleeps until that slot, so concurrent callers
queue fairly in the order they asked, and nobody holds a lock while they wait.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """At most one call per `interval` seconds for each key (0: no spacing)."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str = "") -> float:
        """Claim the next slot for `key`; returns how many seconds to wait for it."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + self.interval
            return slot - now

    def reset(self) -> None:
        """Forget every reserved slot (for tests and for a fresh start)."""
        with self._lock:
            self._next_slot.clear()

    async def wait(self, key: str = "") -> None:
        """Wait for the next slot of `key`."""
        delay = self.reserve(key)
        if delay > 0:
            await self._sleep(delay)
