"""`yieldloop browse` as a person uses it: in a terminal (tmux), against the test broker. The
first run installs kaskade into the cache."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import schemas as s
from services.common.kafka import make_broker, publisher
from services.common.settings import REPO_ROOT, CommonSettings
from tests.conftest import TEST_STACK_ENV
from yieldloop.browse import installed

pytestmark = pytest.mark.integration
LOADING = "● ●"
ENV = {**TEST_STACK_ENV, "PYTHONPATH": str(REPO_ROOT), "PATH": os.environ["PATH"]}


class Terminal:
    """A detached tmux session running one command, read as a person would see it."""

    def __init__(self, command: list[str], env: dict[str, str], socket: Path) -> None:
        self.name, self.socket = f"yieldloop-{uuid.uuid4().hex[:8]}", socket
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # The pane's size, not a COLUMNS/LINES inherited by the tmux server, is the screen's;
        # and the screen stays readable if the command ends early.
        run = f"env -u COLUMNS -u LINES {exports} {shlex.join(command)}; sleep 600"
        line = f"cd {shlex.quote(str(REPO_ROOT))} && {run}"
        self._tmux("new-session", "-d", "-s", self.name, line)
        self._tmux("resize-window", "-t", self.name, "-x", "220", "-y", "50")

    def _tmux(self, *args: str) -> str:
        # a server of this test's own, its socket in the test's temporary folder: no other tmux
        # user's environment or sessions, and nothing left behind in /tmp
        server = ["tmux", "-S", str(self.socket)]
        done = subprocess.run([*server, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, text: str, timeout: float, *, pressing: str | None = None) -> str:
        """The screen once `text` shows, or at the timeout. Meanwhile, whenever the program is
        idle (no loading dots), `pressing` a key, as a person asks for more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and text not in (seen := self.screen()):
            if pressing and LOADING not in seen:
                self._tmux("send-keys", "-t", self.name, pressing)
            time.sleep(3)
        return self.screen()

    def close(self) -> None:
        self._tmux("kill-session", "-t", self.name)


@pytest.fixture
def terminal(stack: CommonSettings, tmp_path: Path) -> Iterator[Callable[[list[str]], Terminal]]:
    """Opens terminals on the test stack; closes them after the test. kaskade is installed
    first (on a fresh machine), so the screens' timeouts measure only the program."""
    assert shutil.which("tmux"), "tmux is installed by deploy/setup.sh"
    installed(stack)
    opened: list[Terminal] = []

    def open_terminal(command: list[str]) -> Terminal:
        opened.append(Terminal(command, ENV, tmp_path / "tmux.sock"))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def browse(*args: str) -> list[str]:
    return [sys.executable, "-m", "yieldloop", "browse", *args]


def test_it_lists_the_topics_with_partitions_and_groups(
    terminal: Callable[[list[str]], Terminal],
) -> None:
    screen = terminal(browse()).wait_for(s.CATALOG[-1].name, timeout=300)

    assert "Topics" in screen and "Lag" in screen, screen
    assert all(spec.name in screen for spec in s.CATALOG), screen


async def test_it_shows_a_topics_messages(
    stack: CommonSettings, terminal: Callable[[list[str]], Terminal]
) -> None:
    mark = f"browse-{uuid.uuid4().hex[:8]}"
    async with make_broker(stack, client_id="browse-test") as broker:
        await publisher(broker)(
            s.AlertRaised(producer="browse-test", severity="info", summary=mark, iteration_id=mark)
        )

    topic = s.topic_for(s.AlertRaised)
    screen = terminal(browse("--topic", topic)).wait_for(mark, timeout=300, pressing="n")

    assert f"Records [{topic}]" in screen and mark in screen, screen
