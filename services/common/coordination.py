"""Coordination in Redis: locks, idempotency keys and job status. Facts never live here."""

from __future__ import annotations

import json
from typing import Protocol

from redis.asyncio import Redis

PREFIX = "yieldloop:"


class Coordination(Protocol):
    async def is_done(self, key: str) -> bool: ...
    async def mark_done(self, key: str) -> None: ...
    async def acquire(self, lock: str, owner: str, *, ttl_s: int) -> bool: ...
    async def release(self, lock: str, owner: str) -> bool: ...
    async def holder(self, lock: str) -> str | None: ...
    async def set_status(self, job: str, status: dict[str, object]) -> None: ...
    async def status(self, job: str) -> dict[str, object] | None: ...


# Release only if we still own it: compare-and-delete in one step.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class RedisCoordination:
    def __init__(self, client: Redis, *, done_ttl_s: int = 30 * 24 * 3600) -> None:
        self.client, self.done_ttl_s = client, done_ttl_s

    @classmethod
    def from_url(cls, url: str) -> RedisCoordination:
        return cls(Redis.from_url(url, decode_responses=True))

    async def is_done(self, key: str) -> bool:
        return bool(await self.client.exists(f"{PREFIX}done:{key}"))

    async def mark_done(self, key: str) -> None:
        await self.client.set(f"{PREFIX}done:{key}", "1", ex=self.done_ttl_s)

    async def acquire(self, lock: str, owner: str, *, ttl_s: int) -> bool:
        return bool(await self.client.set(f"{PREFIX}lock:{lock}", owner, nx=True, ex=ttl_s))

    async def release(self, lock: str, owner: str) -> bool:
        return bool(await self.client.eval(_RELEASE, 1, f"{PREFIX}lock:{lock}", owner))

    async def holder(self, lock: str) -> str | None:
        value = await self.client.get(f"{PREFIX}lock:{lock}")
        return None if value is None else str(value)

    async def set_status(self, job: str, status: dict[str, object]) -> None:
        await self.client.set(f"{PREFIX}job:{job}", json.dumps(status, default=str))

    async def status(self, job: str) -> dict[str, object] | None:
        raw = await self.client.get(f"{PREFIX}job:{job}")
        return None if raw is None else dict(json.loads(raw))

    async def close(self) -> None:
        await self.client.aclose()


class InMemoryCoordination:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.locks: dict[str, str] = {}
        self.jobs: dict[str, dict[str, object]] = {}

    async def is_done(self, key: str) -> bool:
        return key in self.done

    async def mark_done(self, key: str) -> None:
        self.done.add(key)

    async def acquire(self, lock: str, owner: str, *, ttl_s: int) -> bool:
        if lock in self.locks:
            return False
        self.locks[lock] = owner
        return True

    async def release(self, lock: str, owner: str) -> bool:
        if self.locks.get(lock) != owner:
            return False
        del self.locks[lock]
        return True

    async def holder(self, lock: str) -> str | None:
        return self.locks.get(lock)

    async def set_status(self, job: str, status: dict[str, object]) -> None:
        self.jobs[job] = dict(status)

    async def status(self, job: str) -> dict[str, object] | None:
        return self.jobs.get(job)
