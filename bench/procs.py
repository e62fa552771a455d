"""The bench's view of processes, from /proc: a process with all its descendants, their memory,
and the CPU time they spend while a load is timed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _fields(stat)
        if fields:
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), "0"
        )
        total += int(rss)
    return total / 1024


def cpu_s(pids: list[int]) -> float:
    """User and system time of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = _fields(Path(f"/proc/{pid}/stat"))
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total * TICK_S


class CpuUse:
    """The CPU time each named group of processes spends inside `with` blocks, and the wall
    time of those blocks, summed over all of them: where the machine's cores go while a load
    is timed. The processes of each group are looked up as each block starts."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.spent = dict.fromkeys(groups, 0.0)
        self.wall_s = 0.0
        self._at: tuple[float, dict[str, list[int]], dict[str, float]] | None = None

    def __enter__(self) -> CpuUse:
        members = {name: pids() for name, pids in self.groups.items()}
        self._at = time.perf_counter(), members, {n: cpu_s(p) for n, p in members.items()}
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._at is not None
        started, members, before = self._at
        self.wall_s += time.perf_counter() - started
        for name, pids in members.items():
            self.spent[name] += cpu_s(pids) - before[name]
        self._at = None

    def cores(self) -> float:
        """How many cores were busy on average, all groups together."""
        return sum(self.spent.values()) / self.wall_s


def _fields(stat: Path) -> list[str]:
    """The fields after a process's name in its stat file (empty if it is gone)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []
