"""Prometheus metrics of one inference replica, served at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Registered beside the service's own health metrics, served together at GET /metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.predictions = Counter(
            "yieldloop_predictions", "Images judged", ["source", "label"], registry=self.registry
        )
        self.rejected = Counter(
            "yieldloop_rejected_images", "Images refused", ["reason"], registry=self.registry
        )
        self.judge_seconds = Histogram(
            "yieldloop_judge_seconds", "Model time per call", ["source"], registry=self.registry
        )
        self.serving_version = Gauge(
            "yieldloop_serving_version", "Model version this replica serves", registry=self.registry
        )
        self.swaps = Counter("yieldloop_model_swaps", "Hot swaps done", registry=self.registry)
