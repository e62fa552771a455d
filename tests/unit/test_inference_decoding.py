"""The line's images are decoded in a process beside the inference service: the same pixels and
the same refusals as in the service's own thread, and a decoding process that dies is replaced."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from services.common.images import CorruptImage, NotAnImage, decode_all, encode_png
from services.inference.decoding import Decoders

LIMITS = {"size": 32, "max_bytes": 100_000, "max_pixels": 1_000_000}


def images() -> list[bytes]:
    rng = np.random.default_rng(4)
    frames = [encode_png(rng.integers(0, 256, size=(40, 30), dtype=np.uint8)) for _ in range(3)]
    return [frames[0], b"not an image", frames[1], frames[2][:60], frames[2]]


def test_a_batch_decodes_in_order_with_each_refusal_in_its_place() -> None:
    decoded = decode_all(images(), **LIMITS)
    kinds = [type(d) for d in decoded]
    assert kinds == [np.ndarray, NotAnImage, np.ndarray, CorruptImage, np.ndarray]
    assert all(d.shape == (32, 32) for d in decoded if isinstance(d, np.ndarray))


def test_a_decoding_process_gives_what_the_service_thread_gives() -> None:
    async def both() -> tuple[list[object], list[object]]:
        in_thread, beside = Decoders(0), Decoders(1)
        try:
            return (
                await in_thread.decode(images(), **LIMITS),
                await beside.decode(images(), **LIMITS),
            )
        finally:
            await beside.close()

    threaded, spawned = asyncio.run(both())
    assert len(threaded) == len(spawned) == 5
    for a, b in zip(threaded, spawned, strict=True):
        if isinstance(a, np.ndarray):
            assert isinstance(b, np.ndarray) and np.array_equal(a, b)
        else:
            assert type(a) is type(b) and str(a) == str(b)


def test_a_decoding_process_that_died_fails_one_call_and_is_replaced() -> None:
    async def scenario() -> None:
        decoders = Decoders(1)
        try:
            await decoders.start()
            [child] = multiprocessing.active_children()
            os.kill(child.pid or 0, signal.SIGKILL)
            child.join(10)
            with pytest.raises(BrokenProcessPool):
                await decoders.decode(images(), **LIMITS)  # transient: the batch is retried
            decoded = await decoders.decode(images(), **LIMITS)
            assert [isinstance(d, np.ndarray) for d in decoded] == [True, False, True, False, True]
        finally:
            await decoders.close()
        assert multiprocessing.active_children() == []  # closed: nothing left behind

    asyncio.run(scenario())


def test_decoders_leave_when_the_service_is_killed_outright() -> None:
    """kill -9 of the service leaves no decoding process behind."""
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert service.stdout is not None
        decoder = int(service.stdout.readline())
        os.kill(service.pid, signal.SIGKILL)
        service.wait(10)
        deadline = time.monotonic() + 15
        while alive(decoder) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(decoder)
    finally:
        service.kill()


SERVICE = """
import asyncio, multiprocessing, time
from services.inference.decoding import Decoders
decoders = Decoders(1)
asyncio.run(decoders.start())
print([c.pid for c in multiprocessing.active_children() if "resource" not in c.name][0], flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
