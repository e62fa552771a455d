"""The bench's process accounting reads /proc as it is: a child is found under its parent, and
CPU spent inside a block is counted for the group that spent it, not for an idle one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.procs import CpuUse, rss_mb, tree


def test_a_child_and_its_memory_are_found_under_the_parent() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = tree(os.getpid())
        assert found[0] == os.getpid() and child.pid in found
        assert rss_mb([child.pid]) > 1
    finally:
        child.kill()
        child.wait()


def test_cpu_is_counted_for_the_group_that_spent_it() -> None:
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)  # past its start-up
        cpu = CpuUse({"me": lambda: [os.getpid()], "idle": lambda: [idle.pid]})
        with cpu:
            started = time.process_time()
            while time.process_time() - started < 0.2:
                pass
        assert cpu.spent["me"] >= 0.1
        assert cpu.spent["idle"] < 0.05
        assert cpu.wall_s >= 0.2 and cpu.cores() > 0
    finally:
        idle.kill()
        idle.wait()
