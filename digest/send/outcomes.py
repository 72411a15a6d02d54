"""What one attempt comes to: the ledger outcome of a send, and a run's report.

`outcome_of` turns what the transport raised (see `digest.send.transport`) into the row's
next state; `retry_outcome` spaces retries out inside the subscriber's local day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from digest.errors import TransportError
from digest.records import Claim, Outcome, Prepared
from digest.send.due import end_of_local_day
from digest.send.transport import MessageRejected

RETRY_DELAYS = (60, 300, 900, 1800, 3600)  # seconds after the 1st, 2nd … failed attempt
MAX_ATTEMPTS = 8


@dataclass
class DeliveryReport:
    """What one run did. `total` is what was claimable when it started (for progress);
    `recovered`: rows an earlier, interrupted run left in flight, made `unknown` now."""

    sent: int = 0
    published: int = 0  # feed-only digests: recorded with their papers, not mailed
    skipped_empty: int = 0
    retry: int = 0
    failed: int = 0
    unknown: int = 0
    suppressed: int = 0
    queued: int = 0
    recovered: int = 0
    total: int = 0
    dry_run: bool = False
    paused: str | None = None
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        done = self.sent + self.published + self.skipped_empty
        return done + self.retry + self.failed + self.unknown

    @property
    def ok(self) -> bool:
        """False when a message failed, waits for a retry, is in doubt (this run's or an
        interrupted one's), or the run paused."""
        return not (self.failed or self.unknown or self.recovered or self.retry or self.paused)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "skipped":
            self.skipped_empty += 1
        else:
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.suppress:
            self.suppressed += 1
        if outcome.error and outcome.status != "skipped":
            self.errors[outcome.error[:200]] += 1


def retry_outcome(claim: Claim, error: str, now: datetime) -> Outcome:
    """`retry` with back-off, or `failed` when out of attempts or past the local day."""
    attempt = claim.attempts + 1
    base = Outcome(claim.delivery_id, claim.subscriber.id, claim.digest_date, "failed")
    if attempt >= MAX_ATTEMPTS:
        return replace(base, error=f"gave up after {attempt} attempts: {error}")
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    when = now + timedelta(seconds=delay)
    if when >= end_of_local_day(claim.digest_date, claim.subscriber.timezone):
        return replace(base, error=f"gave up at the end of the local day: {error}")
    return replace(base, status="retry", error=error, next_attempt_at=when)


def outcome_of(prepared: Prepared, error: BaseException | None, now: datetime) -> Outcome:
    """Turn one send attempt's result into the ledger outcome (see digest.send.loop)."""
    claim = prepared.claim
    base = Outcome(
        claim.delivery_id,
        claim.subscriber.id,
        claim.digest_date,
        "sent",
        email=claim.subscriber.email,
        message_id=prepared.email.message_id if prepared.email else None,
        items=prepared.items,
    )
    if error is None:
        return base
    text = str(error) or type(error).__name__
    if not isinstance(error, TransportError):
        return replace(base, status="failed", error=f"unexpected error: {text}", items=())
    if error.in_data:
        return replace(base, status="unknown", error=text)
    if error.permanent:
        return replace(base, status="failed", error=text, items=(), suppress=True)
    if isinstance(error, MessageRejected):
        return replace(base, status="failed", error=text, items=())
    return replace(retry_outcome(claim, text, now), email=claim.subscriber.email)
