"""One readable line per event worth seeing while the loop runs."""

from __future__ import annotations

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    RetrainRequested,
    TrainingProgressed,
    YieldReported,
)

YIELD_EVERY = 3  # print every third yield report unless the line's state changed


class Narrator:
    def __init__(self) -> None:
        self.reports = 0
        self.state: str | None = None

    def __call__(self, event: Event, elapsed: float) -> str | None:
        text = self.yield_line(event) if isinstance(event, YieldReported) else stage_line(event)
        return None if text is None else f"{elapsed:7.1f}s  {text}"

    def yield_line(self, r: YieldReported) -> str | None:
        self.reports += 1
        changed, self.state = r.state != self.state, r.state
        if not changed and self.reports % YIELD_EVERY:
            return None
        bar = "#" * round(r.yield_rate * 20)
        threshold = f"{r.threshold:.2f}" if r.threshold is not None else "  - "
        return (
            f"yield {r.yield_rate:4.2f} of {r.window_size:>2} |{bar:<20}| threshold {threshold}  "
            f"confidence {r.mean_confidence:.2f}  {r.state:<12} model v{r.model_version}"
        )


def stage_line(e: Event) -> str | None:
    match e:
        case RetrainRequested():
            return f"RETRAIN REQUESTED {e.iteration_id}: {e.reason} ({len(e.images)} images)"
        case DatasetCurated():
            return (
                f"DATASET CURATED: {e.selected} of {e.considered} kept by both referees, "
                f"{e.disagreements} disagreements; splits {e.split_sizes}"
            )
        case TrainingProgressed():
            return (
                f"TRAINING epoch {e.epoch}/{e.epochs}: loss {e.train_loss:.3f}, "
                f"val accuracy {e.val_accuracy:.3f}"
            )
        case ModelCandidate():
            return f"CANDIDATE {e.model_name} v{e.version} registered as challenger"
        case ModelApproved():
            return f"APPROVED v{e.version} (was v{e.previous_version}): {fmt(e.scores)}"
        case ModelRejected():
            return f"REJECTED v{e.version}: {'; '.join(e.reasons)}"
        case ModelDeployed():
            return f"DEPLOYED v{e.version} on replica {e.replica_id} (warm-up {e.warmup_ms:.0f} ms)"
        case IterationAborted():
            return f"ABORTED {e.iteration_id} at {e.stage}: {e.reason}"
        case AlertRaised():
            return f"ALERT [{e.severity}] {e.summary}"
    return None


def fmt(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
