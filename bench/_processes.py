"""Peak memory of this process's children, for benchmarks that start helper processes.

`getrusage(RUSAGE_CHILDREN)` is no use for them: a child started by fork+exec carries its
parent's peak RSS over, so it reports the larger of the two. `ChildPeaks` instead samples
each child's own high-water mark (VmHWM in /proc) while they run, and a child reports its
own with `peak_rss_mb`.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path
from types import TracebackType


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not getrusage: a child started by fork+exec
    reports its parent's peak there when that was higher."""
    return _high_water_mb(os.getpid()) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children() -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def _high_water_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class ChildPeaks:
    """`with ChildPeaks() as peaks: …` then `peaks.largest_mb`: the highest peak RSS any
    child (matching `marker` in its command line) reached while the block ran."""

    def __init__(self, marker: bytes = b"", interval: float = 0.2) -> None:
        self.marker, self.interval = marker, interval
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @property
    def largest_mb(self) -> float:
        return max(self.peaks.values(), default=0.0)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for pid in _children():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if self.marker not in command:
                continue
            peak = _high_water_mb(pid)
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """CPU time (user + system) `pid` has used; with `reaped_children`, plus that of the
    children it has already waited for (a server's exited backends)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def server_cpu_seconds(name: bytes) -> float:
    """CPU time of every process called `name` and of the children they reaped: the
    whole of a forking server such as PostgreSQL, exited backends included."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_bytes().strip()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if comm == name:
            total += cpu_seconds(int(entry.name), reaped_children=True)
    return total
