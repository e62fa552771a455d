"""The shared vocabulary of yieldloop: event models, topic catalog, wire codec."""

from schemas.codec import decode, decode_any, encode, headers, key
from schemas.envelope import Event, ImageRef, stable_id, utcnow
from schemas.events import (
    ALL_EVENTS,
    AlertRaised,
    DatasetCurated,
    ImageSubmitted,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    TrainingProgressed,
    YieldReported,
)
from schemas.topics import CATALOG, DEAD_LETTER, Retention, TopicSpec, spec_for, topic_for

__all__ = [
    "ALL_EVENTS",
    "CATALOG",
    "DEAD_LETTER",
    "AlertRaised",
    "DatasetCurated",
    "Event",
    "ImageRef",
    "ImageSubmitted",
    "IterationAborted",
    "ModelApproved",
    "ModelCandidate",
    "ModelDeployed",
    "ModelRejected",
    "PredictionMade",
    "Retention",
    "RetrainQueued",
    "RetrainRequested",
    "TopicSpec",
    "TrainingProgressed",
    "YieldReported",
    "decode",
    "decode_any",
    "encode",
    "headers",
    "key",
    "spec_for",
    "stable_id",
    "topic_for",
    "utcnow",
]
