"""Which lease holders are dead: by process on this host (a zombie included), never by
guess for a worker of another host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from digest.send.leases import is_dead, new_worker_id


def owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:abc123"


def test_a_killed_process_is_dead_even_before_it_is_reaped() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    me = new_worker_id()
    try:
        assert not is_dead(owner(process.pid), me=me)
        process.kill()
        # Not reaped yet: the process is a zombie, and that counts as dead.
        deadline = time.monotonic() + 10
        while not is_dead(owner(process.pid), me=me):
            assert time.monotonic() < deadline, "a killed, unreaped worker still looked alive"
            time.sleep(0.01)
        assert process.returncode is None  # still unreaped
    finally:
        process.kill()
        process.wait()
    assert is_dead(owner(process.pid), me=me)  # reaped: gone


def test_workers_of_other_hosts_and_this_one_are_not_judged_by_pid() -> None:
    me = new_worker_id()
    assert not is_dead(me, me=me)
    assert not is_dead(f"elsewhere.example:{os.getpid()}:abc123", me=me)
    assert not is_dead("a-name-chosen-by-the-operator", me=me)
    assert is_dead(owner(os.getpid()), me=me)  # this pid under another nonce: a predecessor
