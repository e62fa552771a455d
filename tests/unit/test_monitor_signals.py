"""The label-free signals: each opens an iteration on its own under the same confirm, hysteresis
and cooldown rules as yield, says that it fired, and stays quiet on a steady line."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest

from services.monitor.domain import LineMonitor, LineState, MonitorPolicy, Trigger, Verdict
from services.monitor.signals import Signal, SignalPolicy

EVERY_SIGNAL = SignalPolicy(
    enabled=frozenset(Signal),
    mix_shift=0.3,
    confidence_drop=0.15,
    low_confidence_rise=0.25,
    input_shift=1.0,
    input_recover_margin=0.25,
)
POLICY = MonitorPolicy(
    yield_threshold=0.7,
    recent_window=20,
    baseline_predictions=40,
    confirm_predictions=30,
    recover_margin=0.05,
    cooldown_predictions=20,
    retry_cooldown_predictions=200,
    sample_limit=400,
    report_every=10,
    signals=EVERY_SIGNAL,
)


class Line:
    """A production line whose parts come with the statistics the inference service sends: the
    brightness of a healthy part varies around 0.30 (spread 0.05)."""

    def __init__(self, policy: MonitorPolicy = POLICY, seed: int = 0) -> None:
        self.monitor: LineMonitor[str] = LineMonitor(policy)
        self.random = random.Random(seed)

    def parts(
        self,
        n: int,
        *,
        ng_every: int = 10,
        confidence: float = 0.97,
        brightness: float = 0.30,
    ) -> list[Verdict[str]]:
        verdicts = []
        for _ in range(n):
            seen = self.monitor.predictions_seen
            label = "NG" if seen % ng_every == 0 else "OK"
            stats = {"mean": self.random.gauss(brightness, 0.05), "edges": 0.05}
            verdicts.append(self.observe(label, confidence, stats))
        return verdicts

    def observe(self, label: str, confidence: float, stats: Mapping[str, float]) -> Verdict[str]:
        ref = f"img-{self.monitor.predictions_seen + 1}"
        return self.monitor.observe(ref=ref, label=label, confidence=confidence, features=stats)

    def healthy(self) -> Line:
        self.parts(100)
        assert self.monitor.state is LineState.HEALTHY
        return self


def fired(verdicts: Iterable[Verdict[str]]) -> list[Trigger[str]]:
    return [v.trigger for v in verdicts if v.trigger is not None]


def test_a_washout_that_raises_yield_triggers_through_the_input_signal() -> None:
    line = Line().healthy()

    # Stray light: every part looks brighter, and the model now passes them all.
    washed = line.parts(60, ng_every=10_000, brightness=0.55)

    [trigger] = fired(washed)
    assert trigger.signal == Signal.INPUT
    assert trigger.yield_rate == 1.0  # better than ever, by yield
    assert trigger.reason.startswith("input shift") and "(mean)" in trigger.reason
    assert line.monitor.state is LineState.IN_ITERATION


def test_the_input_signal_waits_for_the_confirmation_like_yield() -> None:
    line = Line().healthy()

    before = line.parts(POLICY.confirm_predictions, ng_every=10_000, brightness=0.55)
    assert fired(before) == [] and line.monitor.state is LineState.DEGRADED
    [trigger] = fired(line.parts(POLICY.recent_window, brightness=0.55))

    assert trigger.signal == Signal.INPUT


def test_a_short_flicker_of_the_light_never_triggers() -> None:
    line = Line().healthy()

    verdicts = line.parts(15, brightness=0.55) + line.parts(200)

    assert fired(verdicts) == []
    assert line.monitor.state is LineState.HEALTHY


def test_a_falling_confidence_triggers_through_the_confidence_signal() -> None:
    line = Line().healthy()

    [trigger] = fired(line.parts(80, confidence=0.70))

    assert trigger.signal == Signal.CONFIDENCE
    assert trigger.reason.startswith("mean confidence 0.700 below 0.820")


def test_a_label_mix_that_moves_triggers_through_the_mix_signal() -> None:
    # A threshold this low leaves it to the label mix: half the parts now called NG.
    line = Line(replace(POLICY, yield_threshold=0.3)).healthy()

    [trigger] = fired(line.parts(80, ng_every=2))

    assert trigger.signal == Signal.MIX
    assert trigger.reason.startswith("label mix shift 0.400 above 0.300")


def test_of_several_signals_the_one_out_longest_is_named() -> None:
    line = Line().healthy()

    # Overexposure: brighter parts, all called NG. The window's brightness is out after a few
    # parts; yield only once enough of the window is NG.
    verdicts = line.parts(80, ng_every=1, brightness=0.60)

    [trigger] = fired(verdicts)
    assert trigger.signal == Signal.INPUT
    reports = [v.report for v in verdicts if v.report is not None]
    assert reports[0].out_of_bounds == ("input",)
    assert set(reports[-2].out_of_bounds) == {"yield", "mix", "input"}


def test_a_steady_line_never_triggers_in_ten_thousand_predictions() -> None:
    line = Line(seed=3)

    verdicts = line.parts(10_000, confidence=0.97)

    assert fired(verdicts) == []
    assert line.monitor.state is LineState.HEALTHY


def test_a_disabled_signal_never_opens_an_iteration() -> None:
    only_yield = replace(EVERY_SIGNAL, enabled=frozenset({Signal.YIELD}))
    line = Line(replace(POLICY, signals=only_yield)).healthy()

    verdicts = line.parts(300, ng_every=10_000, brightness=0.55)

    assert fired(verdicts) == []
    reports = [v.report for v in verdicts if v.report is not None]
    assert reports[-1].input_shift is not None and reports[-1].input_shift > 3


def test_after_a_new_model_the_shifted_input_is_the_new_normal() -> None:
    line = Line().healthy()
    fired(line.parts(60, ng_every=10_000, brightness=0.55))

    line.monitor.model_changed()  # the repaired model serves
    line.monitor.end_iteration()
    verdicts = line.parts(500, brightness=0.55)

    assert fired(verdicts) == []
    assert line.monitor.state is LineState.HEALTHY


def test_a_refused_iteration_is_retried_only_after_the_longer_pause() -> None:
    line = Line().healthy()
    fired(line.parts(60, ng_every=10_000, brightness=0.55))

    line.monitor.end_iteration(repaired=False)
    too_soon = line.parts(POLICY.retry_cooldown_predictions, brightness=0.55)
    [again] = fired(line.parts(80, brightness=0.55))

    assert fired(too_soon) == [] and again.signal == Signal.INPUT


def test_a_checkpoint_keeps_the_references_and_what_is_out_of_bounds() -> None:
    line = Line().healthy()
    line.parts(10, ng_every=10_000, brightness=0.55)
    assert line.monitor.state is LineState.DEGRADED

    restored = LineMonitor.restore(POLICY, line.monitor.snapshot(str), str)
    again = Line()
    again.monitor = restored
    again.random.setstate(line.random.getstate())  # the same parts come next to both
    rest = again.parts(POLICY.confirm_predictions, ng_every=10_000, brightness=0.55)
    original = line.parts(POLICY.confirm_predictions, ng_every=10_000, brightness=0.55)

    assert [t.reason for t in fired(rest)] == [t.reason for t in fired(original)] != []


def test_a_checkpoint_from_before_the_label_free_signals_still_restores() -> None:
    old = {
        "window": [["img-1", "OK", 0.9]],
        "reference": {"OK": 90, "NG": 10},
        "drop": [],
        "state": "healthy",
        "reported_state": "healthy",
        "counts": [120, 20, 3, 58],
    }

    monitor = LineMonitor.restore(POLICY, old, str)

    assert monitor.baseline == pytest.approx(0.9) and monitor.predictions_seen == 120
