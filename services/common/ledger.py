"""Where iterations are kept: Redis for speed, rebuilt from the pipeline topics when lost.

Each iteration is one document, changed only by compare-and-set on its revision; the same step
keeps the model's one active iteration. Drops queued while the model is held wait in a list that
the next curation claims."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis

from schemas import DatasetCurated, Event, RetrainQueued, codec, decode_any
from services.common.history import read_events
from services.common.iteration import FACTS, Fact, Iteration, Result, Stage, Transition, apply
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
PREFIX = "yieldloop:"


class Ledger(Protocol):
    async def get(self, iteration_id: str) -> Iteration | None: ...

    async def record(self, events: Sequence[Event], *, sent: bool) -> Transition:
        """Record a fact; a new request is refused while another iteration holds the model."""

    async def mark_sent(self, iteration_id: str, key: str) -> None: ...

    async def active(self) -> Iteration | None:
        """The iteration holding the model, if any."""

    async def queue(self, drop: RetrainQueued) -> None: ...

    async def pending(self) -> list[RetrainQueued]: ...

    async def claim(self, iteration_id: str) -> list[RetrainQueued]:
        """The queued drops, handed to this iteration once; the same answer on every call."""

    async def taken_by(self, drop_id: str) -> str | None:
        """The iteration that took over a queued drop, if one did."""

    async def rebuilt(self) -> bool:
        """True once the ledger holds everything the topics hold (after a rebuild)."""

    async def mark_rebuilt(self) -> None: ...


def to_json(it: Iteration) -> str:
    facts = {
        key: {"events": [codec.encode(e).decode() for e in fact.events], "sent": fact.sent}
        for key, fact in it.facts.items()
    }
    return json.dumps(
        {
            "iteration_id": it.iteration_id,
            "line_id": it.line_id,
            "stage": str(it.stage),
            "opened_at": it.opened_at.isoformat(),
            "facts": facts,
        }
    )


def from_json(text: str) -> Iteration:
    raw = json.loads(text)
    facts = {
        key: Fact(tuple(decode_any(e) for e in fact["events"]), bool(fact["sent"]))
        for key, fact in raw["facts"].items()
    }
    return Iteration(
        raw["iteration_id"],
        raw["line_id"],
        Stage(raw["stage"]),
        datetime.fromisoformat(raw["opened_at"]),
        facts,
    )


def hold_change(t: Transition) -> str:
    """'hold' when a request opens the iteration, 'free' when it stops holding, else 'keep'."""
    if t.before is None and t.after.stage is Stage.REQUESTED:
        return "hold"
    if t.before is not None and t.before.holds_model and not t.after.holds_model:
        return "free"
    return "keep"


# KEYS: the document, the model's active key. ARGV: expected revision ('' when new), new revision,
# body, iteration id, hold change. Returns {1, rev} when written, {0, rev} when the document
# changed meanwhile, {-1, holder} when another iteration holds the model.
_COMMIT = """
local rev = redis.call('HGET', KEYS[1], 'rev') or ''
if rev ~= ARGV[1] then return {0, rev} end
if ARGV[5] == 'hold' then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[4] then return {-1, holder} end
  redis.call('SET', KEYS[2], ARGV[4])
elseif ARGV[5] == 'free' then
  if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
end
redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'body', ARGV[3])
return {1, ARGV[2]}
"""

# KEYS: the pending drops (a hash by event id, so queueing twice is harmless), this iteration's
# joined drops, and which iteration took each drop. ARGV: the iteration. The first claim moves
# the pending drops over (an empty marker when there are none); later claims read the same.
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('RENAME', KEYS[1], KEYS[2])
    for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
      redis.call('HSET', KEYS[3], id, ARGV[1])
    end
  else
    redis.call('HSET', KEYS[2], '', '')
  end
end
return redis.call('HVALS', KEYS[2])
"""


class RedisLedger:
    def __init__(self, client: Redis, *, model_name: str) -> None:
        self.client, self.model = client, model_name
        self._commit = client.register_script(_COMMIT)
        self._claim = client.register_script(_CLAIM)

    @classmethod
    def from_url(cls, url: str, *, model_name: str) -> RedisLedger:
        return cls(Redis.from_url(url, decode_responses=True), model_name=model_name)

    def _doc(self, iteration_id: str) -> str:
        return f"{PREFIX}iteration:{iteration_id}"

    @property
    def _active(self) -> str:
        return f"{PREFIX}active:{self.model}"

    @property
    def _pending(self) -> str:
        return f"{PREFIX}pending:{self.model}"

    @property
    def _taken(self) -> str:
        return f"{PREFIX}taken:{self.model}"

    async def _read(self, iteration_id: str) -> tuple[str, Iteration | None]:
        rev, body = await self.client.hmget(self._doc(iteration_id), ["rev", "body"])
        return str(rev or ""), (from_json(str(body)) if body else None)

    async def get(self, iteration_id: str) -> Iteration | None:
        return (await self._read(iteration_id))[1]

    async def record(self, events: Sequence[Event], *, sent: bool) -> Transition:
        iteration_id = str(getattr(events[0], "iteration_id", ""))
        while True:
            rev, current = await self._read(iteration_id)
            t = apply(current, events, sent=sent)
            if not t.changed:
                return t
            outcome = await self._write(iteration_id, rev, t.after, hold_change(t))
            if outcome is True:
                return t
            if isinstance(outcome, str):  # another iteration holds the model
                return Transition(current, t.before or t.after, Result.REFUSED, outcome)

    async def _write(self, iteration_id: str, rev: str, it: Iteration, hold: str) -> bool | str:
        """True when written, why when refused, False when the document moved on meanwhile."""
        new_rev = str(int(rev or 0) + 1)
        keys = [self._doc(iteration_id), self._active]
        code, detail = await self._commit(keys, [rev, new_rev, to_json(it), iteration_id, hold])
        if int(code) == 1:
            return True
        return f"iteration {detail} holds the model" if int(code) == -1 else False

    async def mark_sent(self, iteration_id: str, key: str) -> None:
        while True:
            rev, current = await self._read(iteration_id)
            if current is None or current.facts[key].sent:
                return
            if await self._write(iteration_id, rev, current.sent(key), "keep") is True:
                return

    async def active(self) -> Iteration | None:
        holder = await self.client.get(self._active)
        return None if holder is None else await self.get(str(holder))

    async def queue(self, drop: RetrainQueued) -> None:
        await self.client.hset(self._pending, str(drop.event_id), codec.encode(drop).decode())

    async def pending(self) -> list[RetrainQueued]:
        return _drops([str(v) for v in await self.client.hvals(self._pending)])

    async def claim(self, iteration_id: str) -> list[RetrainQueued]:
        keys = [self._pending, f"{PREFIX}joined:{iteration_id}", self._taken]
        return _drops(await self._claim(keys, [iteration_id]))

    async def taken_by(self, drop_id: str) -> str | None:
        found = await self.client.hget(self._taken, drop_id)
        return None if found is None else str(found)

    async def rebuilt(self) -> bool:
        return bool(await self.client.exists(f"{PREFIX}ledger:{self.model}"))

    async def mark_rebuilt(self) -> None:
        await self.client.set(f"{PREFIX}ledger:{self.model}", "rebuilt")

    async def close(self) -> None:
        await self.client.aclose()


def _drops(raw: Sequence[str]) -> list[RetrainQueued]:
    drops = [codec.decode(text, RetrainQueued) for text in raw if text]
    return sorted(drops, key=lambda d: d.occurred_at)


@dataclass
class InMemoryLedger:
    iterations: dict[str, Iteration] = field(default_factory=dict)
    holder: str | None = None
    waiting: dict[str, RetrainQueued] = field(default_factory=dict)
    joined: dict[str, list[RetrainQueued]] = field(default_factory=dict)
    taken: dict[str, str] = field(default_factory=dict)
    done_rebuilding: bool = False

    async def get(self, iteration_id: str) -> Iteration | None:
        return self.iterations.get(iteration_id)

    async def record(self, events: Sequence[Event], *, sent: bool) -> Transition:
        iteration_id = str(getattr(events[0], "iteration_id", ""))
        t = apply(self.iterations.get(iteration_id), events, sent=sent)
        if not t.changed:
            return t
        hold = hold_change(t)
        if hold == "hold" and self.holder not in (None, iteration_id):
            reason = f"iteration {self.holder} holds the model"
            return replace(t, after=t.before or t.after, result=Result.REFUSED, reason=reason)
        if hold == "hold":
            self.holder = iteration_id
        elif hold == "free" and self.holder == iteration_id:
            self.holder = None
        self.iterations[iteration_id] = t.after
        return t

    async def mark_sent(self, iteration_id: str, key: str) -> None:
        self.iterations[iteration_id] = self.iterations[iteration_id].sent(key)

    async def active(self) -> Iteration | None:
        return None if self.holder is None else self.iterations.get(self.holder)

    async def queue(self, drop: RetrainQueued) -> None:
        self.waiting[str(drop.event_id)] = drop

    async def pending(self) -> list[RetrainQueued]:
        return sorted(self.waiting.values(), key=lambda d: d.occurred_at)

    async def claim(self, iteration_id: str) -> list[RetrainQueued]:
        if iteration_id not in self.joined:
            self.joined[iteration_id] = sorted(self.waiting.values(), key=lambda d: d.occurred_at)
            self.taken |= {drop_id: iteration_id for drop_id in self.waiting}
            self.waiting = {}
        return list(self.joined[iteration_id])

    async def taken_by(self, drop_id: str) -> str | None:
        return self.taken.get(drop_id)

    async def rebuilt(self) -> bool:
        return self.done_rebuilding

    async def mark_rebuilt(self) -> None:
        self.done_rebuilding = True


async def rebuild(ledger: Ledger, facts: Iterable[Event]) -> int:
    """Apply every recorded fact in the order it happened; queued drops and the curations that
    took them over are replayed too. Returns how many facts changed an iteration."""
    applied = 0
    for event in sorted(facts, key=lambda e: e.occurred_at):
        if isinstance(event, RetrainQueued):
            await ledger.queue(event)
        elif type(event) in FACTS and getattr(event, "iteration_id", None):
            applied += (await ledger.record([event], sent=True)).changed
            if isinstance(event, DatasetCurated):
                await ledger.claim(event.iteration_id)
    await ledger.mark_rebuilt()
    return applied


async def ensure_rebuilt(ledger: Ledger, settings: CommonSettings) -> None:
    """After Redis lost its data, the iterations come back from the pipeline topics."""
    if await ledger.rebuilt():
        return
    applied = await rebuild(ledger, await read_events(settings))
    log.info("ledger rebuilt from the pipeline topics: %d facts", applied)
