"""Prometheus metrics of one service, in a registry of its own (tests run several in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.handled = Counter(
            "tamtam_messages_handled", "Messages handled successfully.", ["type"],
            registry=self.registry,
        )
        self.failed = Counter(
            "tamtam_messages_failed", "Handler attempts that raised.", ["type"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "tamtam_messages_dead_lettered", "Messages sent to the dead-letter topic.", ["topic"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "tamtam_consumer_lag", "Messages not yet consumed, per partition.",
            ["topic", "partition"], registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
