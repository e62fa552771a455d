"""A background process of the local stack: started detached, tracked and stopped by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A component would not start or answer; the message names it and its log file."""


@dataclass(frozen=True)
class Daemon:
    name: str
    workdir: Path

    @property
    def pidfile(self) -> Path:
        return self.workdir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            self.pidfile.unlink(missing_ok=True)
            return None
        return pid

    def start(self, argv: Sequence[str], *, env: dict[str, str] | None = None) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.logfile.exists():  # keep one previous log; readiness reads only this run's
            self.logfile.replace(self.logfile.with_suffix(".log.1"))
        with self.logfile.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        return proc.pid

    def wait_ready(self, ready: Callable[[], bool], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise StackError(
                    f"{self.name} exited during start-up; see {self.logfile}\n" + self.log_tail()
                )
            if ready():
                return
            time.sleep(0.3)
        raise StackError(
            f"{self.name} did not answer within {timeout:.0f} s; see {self.logfile}\n"
            + self.log_tail()
        )

    def stop(self, *, timeout: float = 30) -> bool:
        """SIGTERM the process group, SIGKILL after `timeout`; True if something was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
