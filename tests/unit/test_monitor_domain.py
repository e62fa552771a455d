"""A production line's monitor: when a drop becomes one retrain, and when it must not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pytest

from services.monitor.domain import (
    LineMonitor,
    LineState,
    MonitorPolicy,
    Trigger,
    Verdict,
    WindowHealth,
)
from services.monitor.signals import Signal
from tests.unit.test_monitor_signals import EVERY_SIGNAL

# The label-free signals have scenarios of their own (test_monitor_signals.py); here only
# yield may open an iteration.
YIELD_ONLY = replace(EVERY_SIGNAL, enabled=frozenset({Signal.YIELD}))

# Small numbers so each scenario reads at a glance: a window of 10, a drop confirmed over 20.
POLICY = MonitorPolicy(
    yield_threshold=0.7,
    recent_window=10,
    baseline_predictions=20,
    confirm_predictions=20,
    recover_margin=0.05,
    cooldown_predictions=15,
    sample_limit=400,
    report_every=5,
    signals=YIELD_ONLY,
)


def feed(
    monitor: LineMonitor[str], labels: Iterable[str], confidence: float = 0.9
) -> list[Verdict[str]]:
    """Each image is named by its place in the line's history: img-1, img-2, ..."""
    return [
        monitor.observe(ref=img(monitor.predictions_seen + 1), label=label, confidence=confidence)
        for label in labels
    ]


def state(monitor: LineMonitor[str]) -> LineState:
    """Read afresh each time: the state moves on as the line is fed."""
    return monitor.state


def img(n: int) -> str:
    return f"img-{n}"


def ok(n: int) -> list[str]:
    return ["OK"] * n


def ng(n: int) -> list[str]:
    return ["NG"] * n


def triggers(verdicts: list[Verdict[str]]) -> list[Trigger[str]]:
    return [v.trigger for v in verdicts if v.trigger is not None]


def reports(verdicts: list[Verdict[str]]) -> list[WindowHealth]:
    return [v.report for v in verdicts if v.report is not None]


def healthy_line(policy: MonitorPolicy = POLICY) -> LineMonitor[str]:
    monitor: LineMonitor[str] = LineMonitor(policy)
    feed(monitor, ok(30))
    assert state(monitor) is LineState.HEALTHY
    return monitor


def test_the_line_warms_up_before_it_is_judged() -> None:
    monitor: LineMonitor[str] = LineMonitor(POLICY)

    verdicts = feed(monitor, ng(9))

    assert state(monitor) is LineState.WARMING
    assert triggers(verdicts) == [] and reports(verdicts) == []


def test_a_steady_healthy_line_never_triggers() -> None:
    monitor: LineMonitor[str] = LineMonitor(POLICY)

    verdicts = feed(monitor, (["NG", *ok(9)]) * 100)

    assert triggers(verdicts) == []
    assert state(monitor) is LineState.HEALTHY
    assert monitor.predictions_seen == 1000
    assert monitor.baseline == pytest.approx(0.9)


def test_a_lasting_drop_triggers_once_after_confirmation_with_the_drifted_images() -> None:
    monitor = healthy_line()  # img-1..30 all OK

    first_three = feed(monitor, ng(3))  # window yield 0.7: not yet below threshold
    assert state(monitor) is LineState.HEALTHY
    showing_drop = feed(monitor, ng(1))  # 0.6: the window that first shows the drop
    assert state(monitor) is LineState.DEGRADED
    confirming = feed(monitor, ng(19))
    assert triggers(first_three + showing_drop + confirming) == []
    [fired] = triggers(feed(monitor, ng(1)))

    assert state(monitor) is LineState.IN_ITERATION
    assert fired.yield_rate == 0.0 and fired.threshold == 0.7
    assert "below 0.700" in fired.reason
    # the window that first showed the drop (img-25..34), then every image since
    assert fired.samples == [img(n) for n in range(25, 55)]


def test_a_trigger_carries_only_the_newest_samples_up_to_the_limit() -> None:
    monitor = healthy_line(replace(POLICY, sample_limit=12))

    [fired] = triggers(feed(monitor, ng(24)))

    assert fired.samples == [img(n) for n in range(43, 55)]


def test_nothing_triggers_while_an_iteration_is_in_flight() -> None:
    monitor = healthy_line()
    assert len(triggers(feed(monitor, ng(24)))) == 1

    verdicts = feed(monitor, ng(1000))

    assert triggers(verdicts) == []
    assert state(monitor) is LineState.IN_ITERATION
    assert reports(verdicts)[-1].state is LineState.IN_ITERATION


def test_a_dip_that_recovers_before_confirmation_never_triggers() -> None:
    monitor = healthy_line()

    verdicts = feed(monitor, ng(6) + ok(10) + ng(5) + ok(200))

    assert triggers(verdicts) == []
    assert state(monitor) is LineState.HEALTHY


def test_a_degraded_line_is_healthy_again_only_above_threshold_plus_margin() -> None:
    monitor = healthy_line()
    feed(monitor, ng(4))
    assert state(monitor) is LineState.DEGRADED

    hovering = feed(monitor, (ng(3) + ok(7)) * 10)  # yield sits at 0.7: not below, not recovered
    assert state(monitor) is LineState.DEGRADED
    assert triggers(hovering) == []

    feed(monitor, ok(10))  # 1.0 >= 0.7 + 0.05
    assert state(monitor) is LineState.HEALTHY


def test_after_the_iteration_the_line_cools_down_then_a_new_drop_triggers_again() -> None:
    monitor = healthy_line()
    triggers(feed(monitor, ng(24)))
    monitor.end_iteration()
    assert state(monitor) is LineState.COOLDOWN

    cooling = feed(monitor, ng(14))
    assert state(monitor) is LineState.COOLDOWN
    assert reports(cooling)[0].window_size == 1  # the old window was cleared
    feed(monitor, ng(1))
    assert state(monitor) is LineState.DEGRADED  # the drop must be confirmed afresh

    assert triggers(feed(monitor, ng(19))) == []
    assert len(triggers(feed(monitor, ng(1)))) == 1


def test_a_line_that_recovered_during_the_iteration_ends_cooldown_healthy() -> None:
    monitor = healthy_line()
    triggers(feed(monitor, ng(24)))
    monitor.end_iteration()

    verdicts = feed(monitor, ok(100))

    assert triggers(verdicts) == []
    assert state(monitor) is LineState.HEALTHY


def test_a_released_trigger_is_confirmed_afresh_before_it_fires_again() -> None:
    monitor = healthy_line()
    [first] = triggers(feed(monitor, ng(24)))

    monitor.release_trigger()  # another line holds the iteration lock
    assert state(monitor) is LineState.DEGRADED
    assert triggers(feed(monitor, ng(19))) == []
    [second] = triggers(feed(monitor, ng(1)))

    assert second.samples[: len(first.samples)] == first.samples
    assert len(second.samples) == len(first.samples) + 20


def test_ending_or_releasing_outside_an_iteration_changes_nothing() -> None:
    monitor = healthy_line()

    monitor.end_iteration()
    monitor.release_trigger()

    assert state(monitor) is LineState.HEALTHY


def test_a_new_model_clears_the_window_but_keeps_the_baseline() -> None:
    monitor = healthy_line()
    baseline = monitor.baseline

    monitor.model_changed()
    verdicts = feed(monitor, ng(14))

    assert state(monitor) is LineState.COOLDOWN
    assert monitor.baseline == baseline == 1.0
    assert reports(verdicts)[0].window_size == 1
    assert triggers(verdicts) == []


def test_a_new_model_during_an_iteration_does_not_end_it() -> None:
    monitor = healthy_line()
    triggers(feed(monitor, ng(24)))

    monitor.model_changed()
    feed(monitor, ng(100))
    assert state(monitor) is LineState.IN_ITERATION

    monitor.release_trigger()  # the drop was seen under the old model: start over
    assert state(monitor) is LineState.COOLDOWN


def test_without_a_set_threshold_it_is_the_baseline_less_the_tolerance() -> None:
    policy = replace(POLICY, yield_threshold=None)
    monitor: LineMonitor[str] = LineMonitor(policy)

    feed(monitor, ng(1) + ok(9))
    assert monitor.baseline is None and monitor.threshold is None
    feed(monitor, ng(1) + ok(9))

    assert monitor.baseline == pytest.approx(0.9)
    assert monitor.threshold == pytest.approx(0.85)


def test_a_threshold_from_a_poor_baseline_is_floored() -> None:
    policy = replace(POLICY, yield_threshold=None)
    monitor: LineMonitor[str] = LineMonitor(policy)

    feed(monitor, (ng(4) + ok(6)) * 2)  # baseline 0.6, less 0.05 would be 0.55

    assert monitor.threshold == pytest.approx(0.6)


def test_no_threshold_and_no_baseline_yet_means_no_judgement() -> None:
    policy = replace(POLICY, yield_threshold=None, confirm_predictions=0)
    monitor: LineMonitor[str] = LineMonitor(policy)

    verdicts = feed(monitor, ok(10) + ng(9))

    assert triggers(verdicts) == []
    assert state(monitor) is LineState.HEALTHY


def test_the_mix_shift_rises_when_the_label_mix_changes() -> None:
    monitor: LineMonitor[str] = LineMonitor(POLICY)
    calm = reports(feed(monitor, (ng(1) + ok(9)) * 3))

    shifted = reports(feed(monitor, (ng(5) + ok(5)) * 2))

    assert calm[-1].mix_shift == pytest.approx(0.0)
    assert shifted[-1].mix_shift == pytest.approx(0.4)  # 90/10 against 50/50


def test_reports_come_every_few_predictions_and_on_each_state_change() -> None:
    monitor: LineMonitor[str] = LineMonitor(POLICY)

    verdicts = feed(monitor, ok(30))

    reported_at = [i + 1 for i, v in enumerate(verdicts) if v.report is not None]
    assert reported_at == [10, 15, 20, 25, 30]
    assert verdicts[9].report is not None and verdicts[9].report.state is LineState.HEALTHY
    changed = feed(monitor, ng(4))
    assert changed[-1].report is not None and changed[-1].report.state is LineState.DEGRADED


def test_reports_carry_the_label_free_signals() -> None:
    monitor: LineMonitor[str] = LineMonitor(POLICY)
    feed(monitor, ok(6), confidence=0.9)

    [health] = reports(feed(monitor, ok(4), confidence=0.4))

    assert health.window_size == 10
    assert health.yield_rate == 1.0 and health.threshold == 0.7
    assert health.mean_confidence == pytest.approx(0.7)
    assert health.low_confidence_share == pytest.approx(0.4)


def test_a_policy_with_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError):
        MonitorPolicy(recent_window=0, signals=YIELD_ONLY)
