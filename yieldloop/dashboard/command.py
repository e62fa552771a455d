"""`yieldloop dashboard`: serve the board in the foreground."""

from __future__ import annotations

import argparse
import os
import sys

from services.common.settings import REPO_ROOT, CommonSettings, load_settings
from yieldloop.stack.process import Daemon


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="the live dashboard (yield, models, iterations)")
    p.set_defaults(run=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from services.common.service import serve
    from yieldloop.dashboard.app import create
    from yieldloop.dashboard.config import DashboardSettings

    settings = load_settings(DashboardSettings)
    listen = settings.dashboard
    serve(create(settings), name="dashboard", host=listen.host, port=listen.port)
    return 0


def daemon(settings: CommonSettings) -> Daemon:
    """The dashboard as a background process of the local stack (`stack down` stops it)."""
    return Daemon("dashboard", settings.stack.path("dashboard"))


def start_daemon(settings: CommonSettings, *, timeout: float = 120) -> str:
    """Start the dashboard in the background unless it runs; its URL once it is ready."""
    from yieldloop.dashboard.config import DashboardSettings
    from yieldloop.stack.components import http_ok

    listen = load_settings(DashboardSettings).dashboard
    url = f"http://{listen.host}:{listen.port}"
    process = daemon(settings)
    if process.pid() is None:
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        process.start([sys.executable, "-m", "yieldloop", "dashboard"], env=env)
    process.wait_ready(lambda: http_ok(f"{url}/readyz"), timeout=timeout)
    return url
