"""Every event of the loop. Past-tense names: each is a fact that happened."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from schemas.envelope import Event, ImageRef

Label = str


class ImageSubmitted(Event):
    """A part's image entered the system from a production line."""

    event_type: Literal["ImageSubmitted"] = "ImageSubmitted"
    line_id: str
    item_id: str
    image: ImageRef
    filename: str | None = None


class PredictionMade(Event):
    """The serving model judged one image."""

    event_type: Literal["PredictionMade"] = "PredictionMade"
    line_id: str
    item_id: str
    image: ImageRef
    label: Label
    confidence: float = Field(ge=0, le=1)
    model_name: str
    model_version: str
    source: Literal["stream", "rest"] = "stream"
    # Cheap statistics of the image the model saw (intensity, edges, where the ink sits), for
    # the monitor's input-shift signal; empty from producers that do not compute them.
    input_stats: dict[str, float] = Field(default_factory=dict)


class YieldReported(Event):
    """The rolling health of one line over its recent window."""

    event_type: Literal["YieldReported"] = "YieldReported"
    line_id: str
    window_size: int = Field(ge=1)
    yield_rate: float = Field(ge=0, le=1)
    threshold: float | None = Field(None, ge=0, le=1)  # None until a baseline exists
    baseline: float | None = None
    mean_confidence: float = Field(ge=0, le=1)
    low_confidence_share: float = Field(ge=0, le=1)
    mix_shift: float = Field(ge=0, le=1)
    state: str
    model_version: str
    input_shift: float | None = Field(None, ge=0)  # None until the input reference is learned
    out_of_bounds: list[str] = Field(default_factory=list)  # signals out of bounds now


class RetrainRequested(Event):
    """The monitor saw a line's health drop and opened one retrain iteration."""

    event_type: Literal["RetrainRequested"] = "RetrainRequested"
    iteration_id: str
    line_id: str
    reason: str
    yield_rate: float = Field(ge=0, le=1)  # the window's yield when it fired, whatever fired
    threshold: float = Field(ge=0, le=1)  # the yield threshold
    champion_version: str
    images: list[ImageRef] = Field(min_length=1)
    joined: list[UUID] = Field(default_factory=list)  # RetrainQueued drops it takes over
    signal: str | None = None  # which signal fired: yield, mix, confidence or input


class RetrainQueued(Event):
    """A line's yield dropped while another iteration held the model; its samples wait to join
    that iteration (if it has not curated yet) or open the next one."""

    event_type: Literal["RetrainQueued"] = "RetrainQueued"
    iteration_id: str  # the iteration running when the drop was confirmed
    line_id: str
    reason: str
    yield_rate: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    champion_version: str
    images: list[ImageRef] = Field(min_length=1)
    signal: str | None = None  # which signal fired: yield, mix, confidence or input


class DatasetCurated(Event):
    """The referee committee labelled the recent images and a dataset version was written."""

    event_type: Literal["DatasetCurated"] = "DatasetCurated"
    iteration_id: str
    line_id: str
    manifest_uri: str
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    considered: int = Field(ge=0)
    selected: int = Field(ge=0)
    disagreements: int = Field(ge=0)
    split_sizes: dict[str, int]
    class_counts: dict[Label, int]
    mlflow_run_id: str | None = None
    base_version: str | None = None  # the champion this dataset was built against
    joined: list[UUID] = Field(default_factory=list)  # RetrainQueued drops whose samples joined


class IterationAborted(Event):
    """An iteration ended without a candidate or decision."""

    event_type: Literal["IterationAborted"] = "IterationAborted"
    iteration_id: str
    line_id: str
    stage: str
    reason: str


class TrainingProgressed(Event):
    """One epoch of a training job finished."""

    event_type: Literal["TrainingProgressed"] = "TrainingProgressed"
    iteration_id: str
    line_id: str
    epoch: int = Field(ge=1)
    epochs: int = Field(ge=1)
    train_loss: float
    val_accuracy: float = Field(ge=0, le=1)


class ModelCandidate(Event):
    """A newly trained version is registered as challenger, awaiting the gate."""

    event_type: Literal["ModelCandidate"] = "ModelCandidate"
    iteration_id: str
    line_id: str
    model_name: str
    version: str
    run_id: str
    manifest_uri: str
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    base_version: str | None = None  # the champion it was trained from


class ModelApproved(Event):
    """The gate proved the challenger better; it is now the champion."""

    event_type: Literal["ModelApproved"] = "ModelApproved"
    iteration_id: str
    line_id: str
    model_name: str
    version: str
    previous_version: str | None
    scores: dict[str, float]
    reasons: list[str] = Field(default_factory=list)  # why the gate approved, with the figures


class ModelRejected(Event):
    """The gate refused the challenger; the champion is unchanged."""

    event_type: Literal["ModelRejected"] = "ModelRejected"
    iteration_id: str
    line_id: str
    model_name: str
    version: str
    reasons: list[str]
    scores: dict[str, float]


class ModelDeployed(Event):
    """One inference replica now serves a version (after an atomic swap)."""

    event_type: Literal["ModelDeployed"] = "ModelDeployed"
    iteration_id: str | None
    line_id: str | None
    model_name: str
    version: str
    replica_id: str
    loaded_at: AwareDatetime
    warmup_ms: float = Field(ge=0)


class AlertRaised(Event):
    """Something needs a person's attention."""

    event_type: Literal["AlertRaised"] = "AlertRaised"
    severity: Literal["info", "warning", "critical"]
    summary: str
    iteration_id: str | None = None
    line_id: str | None = None
    details: dict[str, object] = Field(default_factory=dict)


ALL_EVENTS: tuple[type[Event], ...] = (
    ImageSubmitted,
    PredictionMade,
    YieldReported,
    RetrainRequested,
    RetrainQueued,
    DatasetCurated,
    IterationAborted,
    TrainingProgressed,
    ModelCandidate,
    ModelApproved,
    ModelRejected,
    ModelDeployed,
    AlertRaised,
)
