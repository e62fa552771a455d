"""Coordination in Redis: idempotency keys, job status and checkpoints. Facts never live here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from redis.asyncio import Redis

PREFIX = "yieldloop:"


class Coordination(Protocol):
    async def ping(self) -> bool: ...
    async def is_done(self, key: str) -> bool: ...
    async def mark_done(self, key: str) -> None: ...
    async def set_status(self, job: str, status: dict[str, object]) -> None: ...
    async def status(self, job: str) -> dict[str, object] | None: ...
    async def save_checkpoint(
        self, name: str, state: dict[str, Any], parts: Mapping[str, Any] | None = None
    ) -> None:
        """`state` replaces the last one; each of `parts` replaces its namesake and the others
        are kept, all in one step (a crash leaves the old checkpoint or the new one)."""

    async def checkpoint(self, name: str) -> dict[str, Any] | None:
        """The last state, with every part saved so far under `parts`."""


class RedisCoordination:
    """Idempotency keys never expire: they must outlive the pipeline topics, which are kept
    forever, or a consumer that lost its offsets would redo old work."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> RedisCoordination:
        return cls(Redis.from_url(url, decode_responses=True))

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def is_done(self, key: str) -> bool:
        return bool(await self.client.exists(f"{PREFIX}done:{key}"))

    async def mark_done(self, key: str) -> None:
        await self.client.set(f"{PREFIX}done:{key}", "1")

    async def set_status(self, job: str, status: dict[str, object]) -> None:
        await self.client.set(f"{PREFIX}job:{job}", json.dumps(status, default=str))

    async def status(self, job: str) -> dict[str, object] | None:
        raw = await self.client.get(f"{PREFIX}job:{job}")
        return None if raw is None else dict(json.loads(raw))

    async def save_checkpoint(
        self, name: str, state: dict[str, Any], parts: Mapping[str, Any] | None = None
    ) -> None:
        key = f"{PREFIX}checkpoint:{name}"
        async with self.client.pipeline(transaction=True) as tx:
            tx.set(key, json.dumps(state))
            if parts:
                tx.hset(f"{key}:parts", mapping={k: json.dumps(v) for k, v in parts.items()})
            await tx.execute()

    async def checkpoint(self, name: str) -> dict[str, Any] | None:
        key = f"{PREFIX}checkpoint:{name}"
        async with self.client.pipeline(transaction=True) as tx:
            tx.get(key)
            tx.hgetall(f"{key}:parts")
            raw, parts = await tx.execute()
        return None if raw is None else _with_parts(raw, parts)

    async def close(self) -> None:
        await self.client.aclose()


class InMemoryCoordination:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.jobs: dict[str, dict[str, object]] = {}
        self.checkpoints: dict[str, str] = {}
        self.parts: dict[str, dict[str, str]] = {}

    async def ping(self) -> bool:
        return True

    async def is_done(self, key: str) -> bool:
        return key in self.done

    async def mark_done(self, key: str) -> None:
        self.done.add(key)

    async def set_status(self, job: str, status: dict[str, object]) -> None:
        self.jobs[job] = dict(status)

    async def status(self, job: str) -> dict[str, object] | None:
        return self.jobs.get(job)

    async def save_checkpoint(
        self, name: str, state: dict[str, Any], parts: Mapping[str, Any] | None = None
    ) -> None:
        self.checkpoints[name] = json.dumps(state)  # kept as text, as Redis would
        self.parts.setdefault(name, {}).update({k: json.dumps(v) for k, v in (parts or {}).items()})

    async def checkpoint(self, name: str) -> dict[str, Any] | None:
        raw = self.checkpoints.get(name)
        return None if raw is None else _with_parts(raw, self.parts.get(name, {}))


def _with_parts(raw: str, parts: Mapping[str, str]) -> dict[str, Any]:
    return {**json.loads(raw), "parts": {k: json.loads(v) for k, v in parts.items()}}
