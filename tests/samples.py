"""One valid example of every event type, for tests that need the whole catalog."""

from __future__ import annotations

from datetime import UTC, datetime

import schemas as s

IMAGE = s.ImageRef.inline(b"\x89PNG fake bytes are fine for the envelope")
SHA = "0" * 64
IT = {"iteration_id": "it-1", "line_id": "line-1"}


def one_of_each(producer: str = "test") -> list[s.Event]:
    common = {"producer": producer, "correlation_id": "it-1"}
    return [
        s.ImageSubmitted(**common, line_id="line-1", item_id="item-1", image=IMAGE),
        s.PredictionMade(
            **common,
            line_id="line-1",
            item_id="item-1",
            image=IMAGE,
            label="OK",
            confidence=0.9,
            model_name="inspection",
            model_version="1",
        ),
        s.YieldReported(
            **common,
            line_id="line-1",
            window_size=29,
            yield_rate=0.5,
            threshold=0.7,
            mean_confidence=0.8,
            low_confidence_share=0.1,
            mix_shift=0.2,
            state="degraded",
            model_version="1",
        ),
        s.RetrainRequested(
            **common,
            **IT,
            reason="yield 0.50 < 0.70",
            yield_rate=0.5,
            threshold=0.7,
            champion_version="1",
            images=[s.ImageRef(sha256=IMAGE.sha256, uri="file:///store/x")],
        ),
        s.RetrainQueued(
            **common,
            **IT,
            reason="yield 0.40 < 0.70",
            yield_rate=0.4,
            threshold=0.7,
            champion_version="1",
            images=[s.ImageRef(sha256=IMAGE.sha256, uri="file:///store/x")],
        ),
        s.DatasetCurated(
            **common,
            **IT,
            manifest_uri="file:///m",
            manifest_sha256=SHA,
            considered=10,
            selected=8,
            disagreements=1,
            split_sizes={"train": 6, "val": 1, "holdout": 1},
            class_counts={"OK": 7, "NG": 1},
        ),
        s.IterationAborted(**common, **IT, stage="curator", reason="too few samples"),
        s.TrainingProgressed(**common, **IT, epoch=1, epochs=4, train_loss=0.3, val_accuracy=0.9),
        s.ModelCandidate(
            **common,
            **IT,
            model_name="inspection",
            version="2",
            run_id="r",
            manifest_uri="file:///m",
            manifest_sha256=SHA,
        ),
        s.ModelApproved(
            **common,
            **IT,
            model_name="inspection",
            version="2",
            previous_version="1",
            scores={"challenger_holdout": 0.9},
        ),
        s.ModelRejected(
            **common,
            **IT,
            model_name="inspection",
            version="2",
            reasons=["worse"],
            scores={"challenger_holdout": 0.1},
        ),
        s.ModelDeployed(
            **common,
            **IT,
            model_name="inspection",
            version="2",
            replica_id="r1",
            loaded_at=datetime.now(UTC),
            warmup_ms=3.0,
        ),
        s.AlertRaised(**common, severity="warning", summary="rejected", iteration_id="it-1"),
        s.ReviewRequested(
            **common,
            **IT,
            item=IMAGE.sha256,
            image=IMAGE,
            reason="disagreement",
            votes=[
                s.RefereeVote(referee="referee-b1", label="OK", confidence=0.9),
                s.RefereeVote(referee="referee-b2", label="NG", confidence=0.8),
            ],
            informativeness=1.8,
            classes=["NG", "OK"],
            served_label="NG",
        ),
        s.LabelProvided(
            **common,
            **IT,
            item=IMAGE.sha256,
            image=IMAGE,
            label="OK",
            reviewer="inspector",
            served_label="NG",
        ),
        s.ModelRolledBack(
            producer=producer,
            correlation_id="rb-1",
            rollback_id="rb-1",
            model_name="inspection",
            version="1",
            from_version="2",
            reason="defects escape since v2",
            actor="operator",
        ),
    ]
