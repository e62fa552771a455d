"""What every service process shares: a FastAPI app whose lifespan runs the broker and the
background loops, liveness, readiness and metrics routes, and handlers run with retries."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from services.common.health import Health, ServiceMetrics, follow_lag
from services.common.retry import retrying
from services.common.settings import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")
Hook = Callable[[], Coroutine[Any, Any, None]]
START_BUDGET = Backoff(initial_s=0.5, max_delay_s=5, max_elapsed_s=120)


@dataclass
class Runtime:
    """One per service process: its health, how it retries, and whether it was asked to stop
    (work running in threads reads `stopping` too)."""

    name: str
    backoff: Backoff = field(default_factory=Backoff)
    health: Health = field(default_factory=Health)
    stopping: threading.Event = field(default_factory=threading.Event)
    started: bool = False

    @property
    def metrics(self) -> ServiceMetrics:
        return self.health.metrics

    async def handle(self, handler: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run one handler: transient faults are retried with backoff, every outcome counted.
        A handler may return a word for its outcome ("duplicate", "skipped"...)."""

        def on_retry(exc: BaseException, delay: float) -> None:
            log.warning("%s: %r; retrying in %.1f s", handler, exc, delay)
            self.metrics.retries.labels(handler, type(exc).__name__).inc()

        try:
            result = await retrying(
                work, backoff=self.backoff, on_retry=on_retry, stopping=self.stopping.is_set
            )
        except BaseException:
            self.metrics.handled.labels(handler, "failed").inc()
            raise
        self.metrics.handled.labels(handler, result if isinstance(result, str) else "done").inc()
        return result


@dataclass
class Lifecycle:
    """What a service does around its broker's start and stop."""

    before_broker: list[Hook] = field(default_factory=list)
    after_broker: list[Hook] = field(default_factory=list)
    loops: list[Hook] = field(default_factory=list)
    before_stop: list[Hook] = field(default_factory=list)
    after_stop: list[Hook] = field(default_factory=list)


def service_app(
    *, title: str, broker: KafkaBroker, runtime: Runtime, lifecycle: Lifecycle | None = None
) -> FastAPI:
    """The ASGI app of one service: its broker in the lifespan, health routes beside it."""
    steps = lifecycle or Lifecycle()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.stopping.clear()
        await _run(steps.before_broker)
        await retrying(broker.start, backoff=START_BUDGET, on_retry=_waiting_for(title))
        await _run(steps.after_broker)
        loops = [asyncio.create_task(follow_lag(broker, runtime.metrics))]
        loops += [asyncio.create_task(loop()) for loop in steps.loops]
        runtime.started = True
        try:
            yield
        finally:
            runtime.started = False
            runtime.stopping.set()
            await _run(steps.before_stop)
            await broker.stop()  # waits for in-flight handlers (they were asked to stop)
            for task in loops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await _run(steps.after_stop)

    unreadable = {"model": ErrorBody, "description": "The request body could not be read"}
    api = FastAPI(title=title, lifespan=lifespan, responses={400: unreadable})
    api.state.runtime = runtime
    api.exception_handler(HTTPException)(_refused)
    api.state.broker = broker
    api.include_router(router)
    api.mount("/metrics", make_asgi_app(registry=runtime.metrics.registry))
    return api


class ErrorBody(BaseModel):
    """What every refusal answers: a short error and what exactly was wrong."""

    error: str
    detail: str


async def _refused(request: Request, exc: HTTPException) -> Response:
    """A body that does not parse is a 400 in the same shape as every other refusal."""
    if exc.status_code == 400:
        body = ErrorBody(error="bad request", detail=str(exc.detail))
        return JSONResponse(body.model_dump(), 400, headers=exc.headers)
    return await http_exception_handler(request, exc)


async def _run(hooks: list[Hook]) -> None:
    for hook in hooks:
        await hook()


def _waiting_for(title: str) -> Callable[[BaseException, float], None]:
    def say(exc: BaseException, delay: float) -> None:
        log.warning("%s: broker not reachable yet (%r); again in %.1f s", title, exc, delay)

    return say


async def runtime_of(request: Request) -> Runtime:
    # async, as every dependency that only reads app state: FastAPI runs a plain def in a
    # worker thread, a hop per request that costs more than the read
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
router = APIRouter(tags=["health"])


@router.get("/livez")
async def livez(runtime: RuntimeDep) -> dict[str, Any]:
    """Liveness: the process and its event loop answer."""
    return {"status": "alive", "service": runtime.name, "uptime_s": _uptime(runtime)}


@router.get("/readyz", responses={503: {"description": "A dependency does not answer yet"}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: started, and every dependency (Kafka, Redis...) answers."""
    ok, checks = await runtime.health.readiness()
    ok = ok and runtime.started
    body = {"status": "ready" if ok else "not ready", "started": runtime.started, **checks}
    return JSONResponse(body, status_code=200 if ok else 503)


def _uptime(runtime: Runtime) -> float:
    return round(time.monotonic() - runtime.health.started_at, 1)


def serve(app: FastAPI, *, name: str, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan then lets running work finish or hand it back."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    # What the imports loaded (torch, mlflow, pydantic's schemas: half a million objects) lives as
    # long as the process. Left to the collector, each full collection walks it all, some 0.3 s
    # with the event loop stopped; frozen, a collection walks only what the service made since.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=60)
