"""The monitor's mutable state: each line's monitor, which iteration each line waits on, how far
each partition was applied, and the events not yet published. All of it is checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas import Event, ImageRef, codec, decode_any
from services.monitor.domain import LineMonitor, MonitorPolicy, Snapshot

Checkpoint = dict[str, Any]


def dump_ref(ref: ImageRef) -> list[str | None]:
    return [ref.sha256, ref.uri]


def load_ref(raw: list[str]) -> ImageRef:
    return ImageRef(sha256=raw[0], uri=raw[1])


@dataclass(frozen=True)
class Wait:
    """What a line in an iteration waits on: its own iteration, or its queued drop until an
    iteration takes that drop over."""

    iteration_id: str | None = None
    drop_id: str | None = None


@dataclass
class MonitorState:
    policy: MonitorPolicy
    lines: dict[str, LineMonitor[ImageRef]] = field(default_factory=dict)
    waiting: dict[str, Wait] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> next to apply
    outbox: list[Event] = field(default_factory=list)
    # Each line's last snapshot and its change count then: a line that saw nothing since is not
    # dumped again (the timer checkpoints every line each tick).
    _snapshots: dict[str, tuple[int, Snapshot]] = field(default_factory=dict, repr=False)

    def line(self, line_id: str) -> LineMonitor[ImageRef]:
        if line_id not in self.lines:
            self.lines[line_id] = LineMonitor(self.policy)
        return self.lines[line_id]

    def applied_up_to(self, topic: str, partition: int) -> int:
        """Records below this offset were applied before (the checkpoint may be ahead of the
        offset committed in Kafka)."""
        return self.offsets.get(f"{topic}/{partition}", 0)

    def advance(self, topic: str, partition: int, offset: int) -> None:
        self.offsets[f"{topic}/{partition}"] = offset + 1

    def _snapshot(self, line_id: str, line: LineMonitor[ImageRef]) -> Snapshot:
        cached = self._snapshots.get(line_id)
        if cached is None or cached[0] != line.changes:
            cached = self._snapshots[line_id] = (line.changes, line.snapshot(dump_ref))
        return cached[1]

    def checkpoint(self) -> Checkpoint:
        return {
            "lines": {k: self._snapshot(k, line) for k, line in self.lines.items()},
            "waiting": {k: [w.iteration_id, w.drop_id] for k, w in self.waiting.items()},
            "offsets": dict(self.offsets),
            "outbox": [codec.encode(e).decode() for e in self.outbox],
        }

    @classmethod
    def restore(cls, policy: MonitorPolicy, saved: Checkpoint | None) -> MonitorState:
        """The state as checkpointed; each line keeps the snapshot it came from until it
        changes, so it is not written again meanwhile."""
        if not saved:
            return cls(policy)
        state = cls(
            policy,
            lines={
                k: LineMonitor.restore(policy, snap, load_ref) for k, snap in saved["lines"].items()
            },
            waiting={k: Wait(*w) for k, w in saved["waiting"].items()},
            offsets={k: int(v) for k, v in saved["offsets"].items()},
            outbox=[decode_any(text) for text in saved["outbox"]],
        )
        for k, snap in saved["lines"].items():
            state._snapshots[k] = (state.lines[k].changes, snap)
        return state


def head(saved: Checkpoint) -> Checkpoint:
    """All of a checkpoint but the lines, which are written each on its own."""
    return {k: v for k, v in saved.items() if k != "lines"}


def changed_lines(saved: Checkpoint, before: Checkpoint | None) -> dict[str, Snapshot]:
    """The lines whose snapshot is not the one written before (a line that saw nothing since
    keeps its snapshot object): a plant's many quiet lines cost nothing per batch."""
    kept = before["lines"] if before else {}
    return {k: snap for k, snap in saved["lines"].items() if kept.get(k) is not snap}


def loaded(raw: Checkpoint | None) -> Checkpoint | None:
    """A checkpoint read back: each line from its own part (an older one held them inline)."""
    if raw is None:
        return None
    parts = raw.pop("parts", {})
    return {**raw, "lines": {**raw.get("lines", {}), **parts}}
