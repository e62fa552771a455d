"""The topic catalog: one event type per topic, and how each topic is keyed and kept."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas import events as ev
from schemas.envelope import Event


class Retention(StrEnum):
    FOREVER = "forever"  # pipeline topics: the audit log
    STREAM = "stream"  # images and predictions: time/size retention from settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event: type[Event]
    key_field: str
    retention: Retention


IMAGES_SUBMITTED = "yieldloop.images.submitted"
PREDICTIONS_MADE = "yieldloop.predictions.made"
YIELD_REPORTED = "yieldloop.yield.reported"
RETRAIN_REQUESTED = "yieldloop.retrain.requested"
RETRAIN_QUEUED = "yieldloop.retrain.queued"
DATASET_CURATED = "yieldloop.dataset.curated"
ITERATION_ABORTED = "yieldloop.iteration.aborted"
TRAINING_PROGRESSED = "yieldloop.training.progressed"
MODEL_CANDIDATE = "yieldloop.model.candidate"
MODEL_APPROVED = "yieldloop.model.approved"
MODEL_REJECTED = "yieldloop.model.rejected"
MODEL_DEPLOYED = "yieldloop.model.deployed"
ALERT_RAISED = "yieldloop.alert.raised"
REVIEW_REQUESTED = "yieldloop.review.requested"
LABEL_PROVIDED = "yieldloop.review.labelled"
MODEL_ROLLED_BACK = "yieldloop.model.rolled-back"
DEAD_LETTER = "yieldloop.dead-letter"

_STREAM, _FOREVER = Retention.STREAM, Retention.FOREVER
CATALOG: tuple[TopicSpec, ...] = (
    # Images need no order: keyed by item, one busy line's images spread over the partitions and
    # the inference replicas. Predictions stay keyed by line, so the monitor sees a line in order.
    TopicSpec(IMAGES_SUBMITTED, ev.ImageSubmitted, "item_id", _STREAM),
    TopicSpec(PREDICTIONS_MADE, ev.PredictionMade, "line_id", _STREAM),
    TopicSpec(YIELD_REPORTED, ev.YieldReported, "line_id", _FOREVER),
    TopicSpec(RETRAIN_REQUESTED, ev.RetrainRequested, "iteration_id", _FOREVER),
    TopicSpec(RETRAIN_QUEUED, ev.RetrainQueued, "iteration_id", _FOREVER),
    TopicSpec(DATASET_CURATED, ev.DatasetCurated, "iteration_id", _FOREVER),
    TopicSpec(ITERATION_ABORTED, ev.IterationAborted, "iteration_id", _FOREVER),
    TopicSpec(TRAINING_PROGRESSED, ev.TrainingProgressed, "iteration_id", _FOREVER),
    TopicSpec(MODEL_CANDIDATE, ev.ModelCandidate, "iteration_id", _FOREVER),
    TopicSpec(MODEL_APPROVED, ev.ModelApproved, "iteration_id", _FOREVER),
    TopicSpec(MODEL_REJECTED, ev.ModelRejected, "iteration_id", _FOREVER),
    TopicSpec(MODEL_DEPLOYED, ev.ModelDeployed, "iteration_id", _FOREVER),
    TopicSpec(ALERT_RAISED, ev.AlertRaised, "iteration_id", _FOREVER),
    TopicSpec(REVIEW_REQUESTED, ev.ReviewRequested, "iteration_id", _FOREVER),
    TopicSpec(LABEL_PROVIDED, ev.LabelProvided, "iteration_id", _FOREVER),
    TopicSpec(MODEL_ROLLED_BACK, ev.ModelRolledBack, "rollback_id", _FOREVER),
)
DEAD_LETTER_RETENTION = Retention.FOREVER

_BY_EVENT = {spec.event: spec for spec in CATALOG}
_BY_TYPE = {spec.event.model_fields["event_type"].default: spec for spec in CATALOG}


def spec_for(event: type[Event] | Event | str) -> TopicSpec:
    """The catalog entry of an event class, instance or `event_type` name."""
    if isinstance(event, str):
        return _BY_TYPE[event]
    cls = event if isinstance(event, type) else type(event)
    return _BY_EVENT[cls]


def topic_for(event: type[Event] | Event | str) -> str:
    return spec_for(event).name
