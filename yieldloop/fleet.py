"""The five services as local processes: started together, checked ready, stopped together, and
one at a time killed or restarted (for fault injection)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import TracebackType

from services.common.settings import REPO_ROOT, load_settings
from services.curator.config import CuratorSettings
from services.gatekeeper.config import GatekeeperSettings
from services.inference.config import InferenceSettings
from services.monitor.config import MonitorSettings
from services.trainer.config import TrainerSettings
from yieldloop.stack.components import http_ok
from yieldloop.stack.process import Daemon, StackError

SERVICES = ("inference", "monitor", "curator", "trainer", "gatekeeper")
REPLICA = "inference-1"


def service_urls() -> dict[str, str]:
    """Where each service answers, from the same settings the services read."""
    listens = {
        "inference": load_settings(InferenceSettings).inference,
        "monitor": load_settings(MonitorSettings).monitor,
        "curator": load_settings(CuratorSettings).curator,
        "trainer": load_settings(TrainerSettings).trainer,
        "gatekeeper": load_settings(GatekeeperSettings).gatekeeper,
    }
    return {name: f"http://{c.host}:{c.port}" for name, c in listens.items()}


class Fleet:
    def __init__(self, *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.daemons = {name: Daemon(name, log_dir) for name in SERVICES}
        self.urls = service_urls()
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        self.env = {
            **os.environ,
            "YIELDLOOP_INFERENCE__REPLICA_ID": REPLICA,
            **(env or {}),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": path,
        }

    @property
    def inference_url(self) -> str:
        return self.urls["inference"]

    def start(self, *, timeout: float = 180) -> float:
        """Start every service and wait until each one says it is ready."""
        started = time.monotonic()
        for name in SERVICES:
            self.launch(name)
        self.wait_ready(*SERVICES, timeout=timeout)
        return time.monotonic() - started

    def launch(self, name: str, *, env: dict[str, str] | None = None) -> None:
        """Start one service in the background (its log is kept beside the others)."""
        argv = [sys.executable, "-m", f"services.{name}"]
        self.daemons[name].start(argv, env={**self.env, **(env or {})})

    def wait_ready(self, *names: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(names)
        while waiting:
            self._check_alive(waiting)
            waiting = [n for n in waiting if not http_ok(f"{self.urls[n]}/readyz")]
            if waiting and time.monotonic() > deadline:
                raise StackError(
                    f"{', '.join(waiting)} not ready within {timeout:.0f} s; "
                    f"logs in {self.daemons[waiting[0]].workdir}"
                )
            time.sleep(0.5 if waiting else 0)

    def relaunch(self, name: str, *, env: dict[str, str] | None = None) -> None:
        """Stop the service if it runs (gracefully), start it again and wait until it is ready."""
        self.daemons[name].stop(timeout=60)
        self.launch(name, env=env)
        self.wait_ready(name)

    def signal(self, name: str, sig: int) -> None:
        """Send a signal and wait for the process to exit (a graceful stop on SIGTERM)."""
        pid = self.daemons[name].pid()
        if pid is None:
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + 90
        while self.daemons[name].pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL, as `kill -9`: no shutdown hook runs."""
        pid = self.daemons[name].pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.daemons[name].pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)

    def alive(self, name: str) -> bool:
        return self.daemons[name].pid() is not None

    def stop(self) -> None:
        for daemon in self.daemons.values():
            daemon.stop(timeout=60)

    def _check_alive(self, names: list[str]) -> None:
        for name in names:
            daemon = self.daemons[name]
            if daemon.pid() is None:
                raise StackError(
                    f"service {name} exited; see {daemon.logfile}\n" + daemon.log_tail()
                )

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()
