"""What the running service did and when: its start, and its latest delivery tick.

The service's jobs update it; the web's `/healthz` only reads it (the service hands it to
`create_app`; a web-only process has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Heartbeats:
    """What the running service did and when; updated by its jobs, read by /healthz."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    runs_delivery: bool = False
    runs_fetch: bool = False
    last_tick_at: datetime | None = None
    last_tick_error: str | None = None

    def ticked(self, at: datetime, error: str | None = None) -> None:
        self.last_tick_at = at
        self.last_tick_error = error
