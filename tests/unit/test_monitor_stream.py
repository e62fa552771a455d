"""A long random line through the monitor, with drifts in labels, confidence and input, new models
and ended iterations: every report agrees with its window read afresh, every checkpoint restores
a monitor that goes on deciding the same, and nothing changes the line unnoticed."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import astuple
from typing import Any

import pytest

from services.monitor.domain import LineMonitor, LineState, Verdict, WindowHealth
from services.monitor.signals import MIN_SPREAD, Signal
from tests.unit.test_monitor_signals import POLICY

Step = tuple[Any, ...]
NEAR = 1e-9  # a reading this close to its limit may fall either side with float rounding


def stream(seed: int, n: int) -> Iterator[Step]:
    """Regimes of a few hundred predictions each; between them the line may get a new model, an
    iteration may end (repaired or not) or fail to start, and people label a few items."""
    rng = random.Random(seed)
    for i in range(n):
        if i % 250 == 0:
            ok, ng_share = rng.uniform(0.3, 1.0), rng.random()
            confidence, brightness = rng.uniform(0.4, 1.0), rng.uniform(0.1, 0.6)
        event = rng.random()
        if event < 0.004:
            yield ("model_changed",)
        elif event < 0.01:
            yield ("end_iteration", rng.random() < 0.5)
        elif event < 0.013:
            yield ("release_trigger",)
        elif event < 0.03:
            yield ("labelled", f"item-{rng.randrange(300)}", rng.random() < 0.8)
        else:
            label = "OK" if rng.random() < ok else ("NG" if rng.random() < ng_share else "scratch")
            stats = {"mean": rng.gauss(brightness, 0.05), "edges": rng.gauss(0.05, 0.002)}
            if rng.random() < 0.05:
                stats["ink"] = rng.random()  # a feature only some images carry
            yield ("observe", label, min(max(rng.gauss(confidence, 0.1), 0.0), 1.0), stats)


def apply(line: LineMonitor[str], step: Step) -> Verdict[str] | None:
    kind, *args = step
    if kind == "observe":
        label, confidence, stats = args
        ref = f"img-{line.predictions_seen + 1}"
        return line.observe(ref=ref, label=label, confidence=confidence, features=stats)
    if kind == "end_iteration":
        line.end_iteration(repaired=args[0])
    elif kind == "release_trigger":
        line.release_trigger()
    elif kind == "model_changed":
        line.model_changed()
    else:
        line.labelled(args[0], correct=args[1])
    return None


def snapshot(line: LineMonitor[str]) -> dict[str, Any]:
    return json.loads(json.dumps(line.snapshot(lambda ref: ref)))


def afresh(snap: dict[str, Any]) -> dict[Signal, tuple[bool, bool, float]]:
    """Each signal's (out, recovered, value) read from the checkpointed window and reference
    with plain sums, as POLICY bounds them."""
    p, s, margin = POLICY, POLICY.signals, POLICY.recover_margin
    window, moments = snap["window"], snap["reference"]["moments"]
    labels = [w[1] for w in window]
    n, readings = len(labels), {}

    def mean_spread(name: str) -> tuple[float, float]:
        count, total, squares = moments[name]
        mean = total / count
        return mean, max(math.sqrt(max(squares / count - mean**2, 0.0)), MIN_SPREAD)

    rate = labels.count("OK") / n
    readings[Signal.YIELD] = (rate < 0.7, rate >= 0.7 + margin, rate)
    ref_labels = snap["reference"]["labels"]
    if sum(ref_labels.values()) >= p.baseline_predictions:
        ref_n = sum(ref_labels.values())
        every = set(labels) | set(ref_labels)
        shift = sum(abs(labels.count(k) / n - ref_labels.get(k, 0) / ref_n) for k in every) / 2
        readings[Signal.MIX] = (shift > s.mix_shift, shift <= s.mix_shift - margin, shift)
    if moments.get("confidence", [0])[0] >= p.baseline_predictions:
        mean = sum(w[2] for w in window) / n
        low = sum(w[2] < p.low_confidence for w in window) / n
        floor = mean_spread("confidence")[0] - s.confidence_drop
        ceiling = mean_spread("low")[0] + s.low_confidence_rise
        recovered = mean >= floor + margin and low <= ceiling - margin
        readings[Signal.CONFIDENCE] = (mean < floor or low > ceiling, recovered, mean)
    shifts = []
    for name in snap["reference"]["features"]:
        carried = [w[3][name] for w in window if name in w[3]]
        if moments[name][0] >= p.baseline_predictions and carried:
            ref_mean, spread = mean_spread(name)
            shifts.append(abs(sum(carried) / len(carried) - ref_mean) / spread)
    if shifts:
        shift = max(shifts)
        recovered = shift <= s.input_shift - s.input_recover_margin
        readings[Signal.INPUT] = (shift > s.input_shift, recovered, shift)
    return readings


def check_report(health: WindowHealth, snap: dict[str, Any]) -> None:
    readings = afresh(snap)
    window = snap["window"]
    assert health.window_size == len(window)
    assert health.yield_rate == readings[Signal.YIELD][2]
    assert health.mean_confidence == pytest.approx(sum(w[2] for w in window) / len(window))
    if Signal.MIX in readings:
        assert health.mix_shift == pytest.approx(readings[Signal.MIX][2], abs=1e-12)
    if Signal.INPUT in readings:
        assert health.input_shift == pytest.approx(readings[Signal.INPUT][2], rel=1e-9)
    clear = {k: r for k, r in readings.items() if abs(r[2] - limit(k, snap)) > NEAR}
    named = set(health.out_of_bounds)
    if health.state is LineState.HEALTHY:
        assert not named and not any(out for out, _, _ in clear.values())
    if health.state is LineState.DEGRADED:
        assert named
        assert all(str(k) in named for k, (out, _, _) in clear.items() if out)
        assert not any(clear[k][1] for k in map(Signal, named) if k in clear)


def limit(signal: Signal, snap: dict[str, Any]) -> float:
    """Where a reading's value meets its bound (confidence: only its mean is compared here)."""
    s = POLICY.signals
    if signal is Signal.CONFIDENCE:
        count, total, _ = snap["reference"]["moments"]["confidence"]
        return total / count - s.confidence_drop
    return {Signal.YIELD: 0.7, Signal.MIX: s.mix_shift, Signal.INPUT: s.input_shift}[signal]


def test_every_report_agrees_with_its_window_read_afresh_and_every_change_is_counted() -> None:
    line: LineMonitor[str] = LineMonitor(POLICY)
    reports, triggers, before = 0, 0, snapshot(line)
    for step in stream(seed=11, n=12_000):
        changes = line.changes
        verdict = apply(line, step)
        after = snapshot(line)
        if after != before:
            assert line.changes != changes, f"{step[0]} changed the line without counting it"
        before = after
        if verdict is None:
            continue
        if verdict.report is not None:
            reports += 1
            check_report(verdict.report, after)
        if verdict.trigger is not None:
            triggers += 1
            reading = afresh(after).get(Signal(verdict.trigger.signal))
            assert reading is not None and reading[0]  # out when it fired
            assert line.state is LineState.IN_ITERATION
            assert verdict.trigger.samples == [ref for ref, _ in after["drop"]]
    assert reports > 1000 and triggers >= 5  # the stream exercised what it is meant to


@pytest.mark.parametrize("at", [137, 1_502, 4_003, 7_777])
def test_a_monitor_restored_from_a_checkpoint_goes_on_deciding_the_same(at: int) -> None:
    steps = list(stream(seed=5, n=10_000))
    line: LineMonitor[str] = LineMonitor(POLICY)
    for step in steps[:at]:
        apply(line, step)
    restored = LineMonitor.restore(POLICY, snapshot(line), lambda ref: ref)
    fired = 0
    for step in steps[at:]:
        ours, theirs = apply(line, step), apply(restored, step)
        assert restored.state is line.state
        if ours is None or theirs is None:
            assert ours is theirs
            continue
        assert (ours.trigger is None) == (theirs.trigger is None)
        if ours.trigger is not None and theirs.trigger is not None:
            fired += 1
            assert ours.trigger.signal == theirs.trigger.signal
            assert ours.trigger.samples == theirs.trigger.samples
        assert (ours.report is None) == (theirs.report is None)
        if ours.report is not None and theirs.report is not None:
            # The restored window summed its values afresh: the same up to float rounding.
            for mine, other in zip(astuple(ours.report), astuple(theirs.report), strict=True):
                assert mine == (
                    pytest.approx(other, rel=1e-9) if isinstance(other, float) else other
                )
    assert fired >= 1
