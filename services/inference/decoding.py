"""The line's images decoded beside the service. PIL decodes a small PNG mostly in Python, under
the interpreter lock that the service also needs to fetch, judge, store and publish; in a process
of its own the decoding runs beside all of that."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

import numpy as np

from services.common.images import ImageRejected, decode_all


class Decoders:
    """`processes` processes that decode batches of images (0: a thread of the service)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def decode(
        self, images: list[bytes], *, size: int, max_bytes: int, max_pixels: int
    ) -> list[np.ndarray | ImageRejected]:
        """Each image's pixels or why it is refused, in order. A decoding process that died
        fails this call (a transient fault: the batch is tried again) and is replaced."""
        work = partial(decode_all, images, size=size, max_bytes=max_bytes, max_pixels=max_pixels)
        if not self.processes:
            return await asyncio.to_thread(work)
        pool = self._running()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, work)
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    async def start(self) -> None:
        """Start the processes now rather than on the line's first batch: a fresh one spends
        about a second importing."""
        await self.decode([], size=1, max_bytes=1, max_pixels=1)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned, not forked: the service's threads (torch's, the event loop's) and its
            # sockets must not be copied into a child.
            spawn = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=spawn, initializer=_decoding_process
            )
        return self._pool


def _decoding_process() -> None:
    """Ctrl-C reaches the whole process group: the service stops its decoders itself. A service
    killed outright cannot, so each decoder leaves once the service is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    service = os.getppid()
    threading.Thread(target=_exit_after, args=(service,), daemon=True).start()


def _exit_after(service: int, every_s: float = 1.0) -> None:
    while os.getppid() == service:
        time.sleep(every_s)
    os._exit(0)
