"""The demo's end report, computed from a run's events and the simulator's ground truth.

The story used throughout: ten clean parts judged by model 1, the light drifts at t=10 s and model
1 judges ten drifted parts badly, the monitor asks for a retrain at t=20 s, model 2 is curated,
trained, approved and serving at t=40 s, then judges ten more drifted parts.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import schemas as s
from schemas.datasets import DatasetManifest, ManifestEntry, Split
from yieldloop.report import build_report, summary_table, write, yield_series
from yieldloop.truth import TRUTH_FIELDS

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LINE, IT, MANIFEST = "line-1", "it-1", "file:///store/manifest-2"
ENV: dict[str, Any] = {"producer": "test", "correlation_id": IT}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sha(n: int) -> str:
    return f"{n:064x}"


# (item number, true label, drifted, predicted label, model version, seconds)
CLEAN = [
    (n, "NG" if n % 5 == 0 else "OK", False, "NG" if n % 5 == 0 else "OK", "1", n)
    for n in range(10)
]
UNDER_DRIFT = [(n, "OK", True, "OK" if n % 2 else "NG", "1", n) for n in range(10, 20)]
RECOVERED = [(n, "OK", True, "NG" if n == 40 else "OK", "2", n + 1) for n in range(40, 50)]
PARTS = CLEAN + UNDER_DRIFT + RECOVERED


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    path = tmp_path / "truth.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(TRUTH_FIELDS)
        for n, label, drifted, *_ in PARTS:
            row = [f"item-{n}", sha(n), label, str(drifted).lower(), "", at(n).isoformat()]
            writer.writerow(row)
    return path


def predictions(
    parts: list[tuple[int, str, bool, str, str, int]] = PARTS, line: str = LINE
) -> list[s.PredictionMade]:
    return [
        s.PredictionMade(
            producer="inference",
            line_id=line,
            item_id=f"item-{n}",
            image=s.ImageRef(sha256=sha(n), uri=f"file:///{n}"),
            label=guess,
            confidence=0.9,
            model_name="inspection",
            model_version=version,
            occurred_at=at(t),
        )
        for n, _, _, guess, version, t in parts
    ]


def requested() -> s.RetrainRequested:
    return s.RetrainRequested(
        **ENV,
        iteration_id=IT,
        line_id=LINE,
        reason="yield 0.50 < 0.70",
        yield_rate=0.5,
        threshold=0.7,
        champion_version="1",
        images=[s.ImageRef(sha256=sha(1), uri="file:///1")],
        occurred_at=at(20),
    )


def curated() -> s.DatasetCurated:
    return s.DatasetCurated(
        **ENV,
        iteration_id=IT,
        line_id=LINE,
        manifest_uri=MANIFEST,
        manifest_sha256=sha(99),
        considered=8,
        selected=5,
        disagreements=2,
        split_sizes={"train": 4, "holdout": 1},
        class_counts={"OK": 5},
        occurred_at=at(25),
    )


def candidate() -> s.ModelCandidate:
    return s.ModelCandidate(
        **ENV,
        iteration_id=IT,
        line_id=LINE,
        model_name="inspection",
        version="2",
        run_id="run",
        manifest_uri=MANIFEST,
        manifest_sha256=sha(99),
        occurred_at=at(30),
    )


def approved_and_deployed() -> list[s.Event]:
    return [
        s.ModelApproved(
            **ENV,
            iteration_id=IT,
            line_id=LINE,
            model_name="inspection",
            version="2",
            previous_version="1",
            scores={"holdout": 0.9},
            occurred_at=at(35),
        ),
        s.ModelDeployed(
            **ENV,
            iteration_id=IT,
            line_id=LINE,
            model_name="inspection",
            version="2",
            replica_id="r1",
            loaded_at=at(40),
            warmup_ms=5,
            occurred_at=at(40.1),
        ),
    ]


def manifest() -> DatasetManifest:
    """Two base entries and five pseudo-labels of this iteration, four of them right."""

    def entry(n: int, label: str, source: str) -> ManifestEntry:
        return ManifestEntry(
            sha256=sha(n), uri=f"file:///{n}", label=label, split=Split.TRAIN, source=source
        )

    base = [entry(100, "OK", "base"), entry(101, "NG", "base")]
    pseudo = [entry(n, "OK", f"iteration:{IT}") for n in (10, 11, 12, 13)]
    return DatasetManifest(
        name="m", classes=["OK", "NG"], entries=[*base, *pseudo, entry(14, "NG", f"iteration:{IT}")]
    )


def report(truth: Path, pipeline: list[s.Event], **overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "truth": truth,
        "predictions": predictions(),
        "pipeline": pipeline,
        "yield_reports": [],
        "manifests": {MANIFEST: manifest()},
        "yield_threshold": 0.7,
        "drift_started_at": at(10),
        "line_id": LINE,
    }
    return build_report(**{**args, **overrides})  # type: ignore[arg-type]


def test_a_recovered_drift_reports_each_accuracy_on_its_own_parts(truth: Path) -> None:
    r = report(truth, [requested(), curated(), candidate(), *approved_and_deployed()])

    assert r["decision"] == "approved"
    assert r["accuracy_before_drift"] == 1.0  # model 1 on clean parts
    assert r["accuracy_under_drift"] == 0.5  # model 1 on drifted parts
    assert r["accuracy_after_recovery"] == 0.9  # model 2 on drifted parts
    assert r["yield_after_recovery"] == 0.9
    assert r["pseudo_label_precision"] == 0.8  # base entries do not count
    assert r["selected_samples"] == 5
    assert (r["champion_before"], r["champion_after"]) == ("1", "2")


def test_the_timeline_runs_from_drift_to_the_new_champion_serving(truth: Path) -> None:
    r = report(truth, [requested(), curated(), candidate(), *approved_and_deployed()])

    assert r["drift_started_at"] == at(10).isoformat()
    assert r["retrain_requested_at"] == at(20).isoformat()
    assert r["champion_serving_at"] == at(40).isoformat()
    assert r["seconds_drift_to_serving"] == 30.0
    [iteration] = r["iterations"]  # type: ignore[misc]
    assert [stage["event"] for stage in iteration["stages"]] == [  # type: ignore[has-type]
        "RetrainRequested",
        "DatasetCurated",
        "ModelCandidate",
        "ModelApproved",
        "ModelDeployed",
    ]
    assert [v["version"] for v in r["model_versions"]] == ["1", "2"]  # type: ignore[attr-defined]


def test_a_run_with_no_iteration_leaves_every_loop_figure_empty(truth: Path) -> None:
    r = report(truth, [], predictions=predictions(CLEAN + UNDER_DRIFT))

    assert r["decision"] == "none"
    for key in (
        "retrain_requested_at",
        "champion_serving_at",
        "seconds_drift_to_serving",
        "selected_samples",
        "pseudo_label_precision",
        "accuracy_after_recovery",
        "yield_after_recovery",
        "champion_after",
    ):
        assert r[key] is None, key
    assert r["accuracy_under_drift"] == 0.5  # still measurable: the old model kept serving
    assert r["iterations"] == []


def test_a_rejected_candidate_never_serves_so_recovery_is_unknown(truth: Path) -> None:
    rejected = s.ModelRejected(
        **ENV,
        iteration_id=IT,
        line_id=LINE,
        model_name="inspection",
        version="2",
        reasons=["holdout 0.60 < 0.71"],
        scores={"holdout": 0.6},
        occurred_at=at(35),
    )

    r = report(truth, [requested(), curated(), candidate(), rejected], manifests={})

    assert r["decision"] == "rejected"
    assert r["champion_serving_at"] is None and r["accuracy_after_recovery"] is None
    assert r["pseudo_label_precision"] is None  # the manifest was not collected


def test_predictions_of_other_lines_and_parts_without_truth_are_left_out(truth: Path) -> None:
    strangers = predictions(CLEAN, line="line-2")
    unknown = predictions([(500, "OK", False, "NG", "1", 5)])

    r = report(truth, [], predictions=predictions(CLEAN) + strangers + unknown)

    assert r["predictions"] == 11
    assert r["accuracy_before_drift"] == 1.0 and r["accuracy_before_drift_n"] == 10


def test_the_rolling_yield_covers_each_full_window_in_time_order() -> None:
    labels = ["OK", "OK", "NG", "NG", "OK"]
    made = predictions([(n, "OK", False, label, "1", n) for n, label in enumerate(labels)])

    series = yield_series(reversed(made), window=3)

    assert series == [(at(2), 2 / 3), (at(3), 1 / 3), (at(4), 1 / 3)]


def test_the_report_is_written_as_json_and_a_plot(truth: Path, tmp_path: Path) -> None:
    r = report(truth, [requested(), curated(), candidate(), *approved_and_deployed()])

    data, png = write(tmp_path / "run", r, yield_series(predictions(), window=5))

    assert json.loads(data.read_text()) == r
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "accuracy after recovery  90.0%" in summary_table(r)
