"""What a replica reports at ``/metrics`` (Prometheus text format, prometheus-client).

One registry per running bot, so tests can run several in one process. Counters only ever grow;
Prometheus sums them over replicas."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REPLY_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.updates = Counter("mirror_updates_received", "Updates recorded (new ones, not re-deliveries)", registry=r)
        self.photos = Counter("mirror_photos_received", "Photos recorded (an album's each)", registry=r)
        self.scored = Counter("mirror_photos_scored", "Photos answered with a score", ["subject"], registry=r)
        self.refused = Counter("mirror_photos_refused", "Photos answered without a score", ["reason"], registry=r)
        self.errors = Counter("mirror_errors", "Updates whose handling raised", registry=r)
        self.queue = Gauge("mirror_queue_depth", "Updates waiting in the shared queue", registry=r)
        self.store_memory = Gauge(
            "mirror_store_memory_ratio",
            "Redis's used memory over its maxmemory (noeviction: at 1 it refuses writes); 0 without a limit",
            registry=r,
        )
        self.reply = Histogram(
            "mirror_reply_seconds", "From recording an update to its answer leaving", buckets=REPLY_BUCKETS, registry=r
        )
        self.model = Gauge("mirror_model_info", "The model version served here (value 1)", ["version"], registry=r)
        self.floods = Counter(
            "mirror_telegram_429", "Requests Telegram refused with 429 (flood control)", ["method"], registry=r
        )
        self.stalls = Counter("mirror_loop_stalls", "Event-loop stalls over 100 ms", registry=r)
        self.longest_stall = Gauge("mirror_loop_longest_stall_seconds", "Longest event-loop stall so far", registry=r)

    def serving(self, version: str) -> None:
        self.model.clear()
        self.model.labels(version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
