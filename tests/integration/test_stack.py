"""`yieldloop stack`: up is idempotent, every component answers, down leaves no process behind.
Runs a stack of its own (other ports, other folder) beside the session's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import CommonSettings
from tests.conftest import port
from yieldloop import stack
from yieldloop.stack.components import components

pytestmark = pytest.mark.integration


@pytest.fixture
def own_stack() -> Iterator[CommonSettings]:
    settings = CommonSettings(
        stack={
            "state_dir": ".yieldloop/test-lifecycle",
            "kafka_port": int(port(23092)),
            "kafka_controller_port": int(port(23093)),
            "redis_port": int(port(23379)),
            "mlflow_port": int(port(23000)),
        }
    )
    shutil.rmtree(settings.stack.path(), ignore_errors=True)
    yield settings
    stack.down(settings, say=None)
    shutil.rmtree(settings.stack.path(), ignore_errors=True)


def processes_of(folder: Path) -> list[int]:
    """Pids of live processes whose command line mentions our state folder."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and str(folder) in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def test_up_twice_is_harmless_and_down_leaves_no_process(own_stack: CommonSettings) -> None:
    stack.up(own_stack, say=None)
    pids = [c.daemon.pid() for c in components(own_stack)]
    assert all(pids) and all(s.startswith("healthy") for s in stack.status(own_stack).values())

    stack.up(own_stack, say=None)  # already running: nothing new started
    assert [c.daemon.pid() for c in components(own_stack)] == pids

    stack.restart(own_stack, "redis")  # one component by its name: a new process, the rest kept
    after = [c.daemon.pid() for c in components(own_stack)]
    assert after[0] == pids[0] and after[1] not in (None, pids[1]) and after[2] == pids[2]
    with pytest.raises(ValueError, match="known: kafka, redis, mlflow"):
        stack.restart(own_stack, "zookeeper")

    stack.down(own_stack, say=None)
    assert all(s == "down" for s in stack.status(own_stack).values())
    assert processes_of(own_stack.stack.path()) == []
