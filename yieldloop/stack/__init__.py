"""`yieldloop stack up | down | status`: the real local components on loopback."""

from __future__ import annotations

import asyncio
import time

from services.common.settings import CommonSettings
from services.common.topics import ensure_topics
from yieldloop.stack import tools
from yieldloop.stack.components import Component, component_named, components
from yieldloop.stack.process import Daemon, StackError

__all__ = ["StackError", "down", "restart", "status", "up"]


def up(settings: CommonSettings, *, say: object = print) -> float:
    """Start what is not running, wait until everything answers, create topics; seconds taken."""
    started = time.monotonic()
    for component in components(settings):
        fresh = component.up()
        _say(
            say,
            f"{component.name:<7} {'started' if fresh else 'running'}  log: "
            f"{component.daemon.logfile}",
        )
    for line in asyncio.run(ensure_topics(settings)).lines():
        _say(say, f"topics  {line}")
    try:
        tools.fetch(settings)
    except StackError as exc:  # the stack runs without them; only looking at it is harder
        _say(say, f"tools   not fetched: {exc}")
    else:
        for line in tools.hints(settings):
            _say(say, line)
    return time.monotonic() - started


def down(settings: CommonSettings, *, say: object = print) -> None:
    beside = Daemon("dashboard", settings.stack.path("dashboard"))  # `yieldloop demo` starts it
    if beside.stop():
        _say(say, "dashboard stopped")
    for component in reversed(components(settings)):
        stopped = component.daemon.stop()
        _say(say, f"{component.name:<7} {'stopped' if stopped else 'not running'}")


def status(settings: CommonSettings) -> dict[str, str]:
    return {c.name: _state(c) for c in components(settings)}


def restart(settings: CommonSettings, name: str) -> None:
    """Stop and start one component (its data stays)."""
    part = component_named(settings, name)
    part.daemon.stop()
    part.up()


def _state(component: Component) -> str:
    pid = component.daemon.pid()
    if pid is None:
        return "down"
    return f"{'healthy' if component.ready() else 'starting'} (pid {pid})"


def _say(say: object, line: str) -> None:
    if callable(say):
        say(line)
