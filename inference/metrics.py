"""Prometheus metrics for the inference service, in a registry owned by the service (no globals).

Exposition format: https://prometheus.io/docs/instrumenting/exposition_formats/. Mount
:func:`render_metrics` at ``/metrics``. Labels carry model names and reasons, never patient data.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class InferenceMetrics:
    """All metric families of one :class:`inference.service.InferenceService`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "inference_requests_total",
            "Inference requests by model and outcome",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "inference_request_seconds",
            "Time from submission to result",
            ["model", "version"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.batch_rows = Histogram(
            "inference_batch_rows",
            "Rows per executed micro-batch",
            ["model", "version"],
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.queue_delay = Histogram(
            "inference_queue_delay_seconds",
            "Wait of the oldest request in a batch",
            ["model", "version"],
            registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05),
        )
        self.suggestions = Counter(
            "ai_suggestions_total", "Suggestions computed or refused", ["model", "result"], registry=r
        )
        self.refusals = Counter(
            "ai_suggestion_refusals_total", "Inputs that blocked a suggestion", ["model", "kind"], registry=r
        )
        self.ready = Gauge(
            "inference_model_ready",
            "1 when the model's session is loaded and warmed up",
            ["model", "version", "provider"],
            registry=r,
        )


def render_metrics(metrics: InferenceMetrics) -> tuple[bytes, str]:
    """(body, content type) for a ``/metrics`` response."""
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST
