"""Who holds the ledger's rows: worker ids, which workers are dead, and recovering their rows.

A worker leases the rows it claims for `store.deliveries.LEASE_SECONDS` and renews every
lease it holds while it lives (the delivery loop's heartbeat). A worker that dies stops
renewing: its queued rows become claimable again when their leases run out, on any host,
and its `sending` rows are then made `unknown` by the next recovery. On its own host a
dead worker is seen at once, by its process id (a killed process that nobody has reaped
yet, a zombie, counts as dead), so a restart or a sibling there need not wait for that.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from digest.store import deliveries as ledger
from digest.store.delivery_outcomes import Recovered, recover_interrupted
from digest.store.engine import transaction


def new_worker_id() -> str:
    """`host:pid:nonce`: lets a restarted worker on the same host see its predecessor died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def is_dead(owner: str, *, me: str) -> bool:
    """True if `owner` is a worker on this host whose process is gone (or an earlier me).
    A worker of another host, or one named otherwise, is never judged here: its leases
    run out instead."""
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # same pid, other nonce: a predecessor whose pid was reused
    return _process_gone(pid)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here: the process exists, so take it for alive
    # The state follows the command name, which is in parentheses and may hold spaces.
    state = stat.rpartition(")")[2].split()[:1]
    return state in (["Z"], ["X"])


def dead_owners(engine: Engine, *, me: str) -> list[str]:
    """Lease holders on this host whose processes are gone."""
    with transaction(engine) as session:
        owners = ledger.lease_owners(session)
    return [owner for owner in owners if is_dead(owner, me=me)]


def recover(engine: Engine, *, worker_id: str, now: datetime) -> Recovered:
    """Dead workers' `sending` rows (and any whose lease ran out) → unknown; their queued
    rows back to the queue (see store.delivery_outcomes.recover_interrupted)."""
    dead = dead_owners(engine, me=worker_id)
    with transaction(engine) as session:
        return recover_interrupted(session, now=now, dead_owners=dead)
