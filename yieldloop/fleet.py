"""The five services as local processes: started together, checked ready, stopped together."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType

from services.common.settings import REPO_ROOT, CommonSettings
from yieldloop.stack.components import http_ok
from yieldloop.stack.process import Daemon, StackError

SERVICES = ("inference", "monitor", "curator", "trainer", "gatekeeper")
STARTED = "FastStream app started successfully"


class Fleet:
    def __init__(
        self,
        settings: CommonSettings,
        *,
        log_dir: Path,
        inference_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings, self.inference_url = settings, inference_url
        self.daemons = [Daemon(name, log_dir) for name in SERVICES]
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}

    def start(self, *, timeout: float = 180) -> float:
        """Start every service, wait until inference answers and every group has members."""
        started = time.monotonic()
        for daemon in self.daemons:
            daemon.start([sys.executable, "-m", f"services.{daemon.name}"], env=self.env)
        deadline = started + timeout
        while not (self._http_ready() and self._consumers_started()):
            self._check_alive()
            if time.monotonic() > deadline:
                raise StackError(
                    f"services not ready within {timeout:.0f} s; logs in {self.daemons[0].workdir}"
                )
            time.sleep(1)
        return time.monotonic() - started

    def stop(self) -> None:
        for daemon in self.daemons:
            daemon.stop(timeout=20)

    def _check_alive(self) -> None:
        for daemon in self.daemons:
            if daemon.pid() is None:
                raise StackError(
                    f"service {daemon.name} exited; see {daemon.logfile}\n" + daemon.log_tail()
                )

    def _consumers_started(self) -> bool:
        # Subscribers read from the earliest offset, so nothing published meanwhile is lost.
        return all(STARTED in d.log_tail(200) for d in self.daemons if d.name != "inference")

    def _http_ready(self) -> bool:
        return http_ok(f"{self.inference_url}/healthz")

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()
