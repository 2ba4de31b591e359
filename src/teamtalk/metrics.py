"""Prometheus metrics, with prometheus_client.

Two kinds, and a scrape of N servers and M workers treats them differently:
- per process (counters and histograms in `REGISTRY`, which live as long as the process):
  assignments, their latency, events emitted, HTTP request durations. Sum them over targets.
- shared (`Shared`, read from the database and Redis at scrape time by `SharedCollector`):
  the queue, leaders, agents, free slots, sockets, workers' heartbeat age. Every target
  reports the same values: take them from any one, or max() over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Waits run from milliseconds (an idle system) to an hour (a floor with nobody online).
WAIT_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
)  # fmt: skip
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

ASSIGNMENTS = Counter(
    "teamtalk_assignments",
    "Conversations assigned to a leader and committed, by this process.",
    registry=REGISTRY,
)
ASSIGNMENTS_FAILED = Counter(
    "teamtalk_assignments_failed",
    "Assignment attempts that failed and were requeued (an assignment_failed event each).",
    registry=REGISTRY,
)
ASSIGNMENT_LATENCY = Histogram(
    "teamtalk_assignment_latency_seconds",
    "From the request's creation to this assignment of it.",
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "teamtalk_queue_wait_seconds",
    "Time in the queue before an assignment, from when it was (last) queued.",
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
EVENTS_EMITTED = Counter(
    "teamtalk_events_emitted",
    "Socket.IO events emitted by this process, by event name.",
    ["event"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "teamtalk_http_request_duration_seconds",
    "HTTP requests answered by this process, by method, route template and status.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)

# Labelled children looked up once: `labels()` takes a lock and builds a key every call.
_events: dict[str, Counter] = {}
_http: dict[tuple[str, str, int], Histogram] = {}


def events_emitted(counts: Mapping[str, int]) -> None:
    for event, n in counts.items():
        child = _events.get(event)
        if child is None:
            child = _events[event] = EVENTS_EMITTED.labels(event)
        child.inc(n)


def http_observed(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    child = _http.get(key)
    if child is None:
        label = method if method in METHODS else "other"
        child = _http[key] = HTTP_DURATION.labels(label, route, str(status))
    child.observe(seconds)


def assignments_committed(waits: Iterable[tuple[float, float]]) -> None:
    """Each committed assignment's (seconds since created, seconds since queued)."""
    for latency, wait in waits:
        ASSIGNMENTS.inc()
        ASSIGNMENT_LATENCY.observe(max(latency, 0.0))
        QUEUE_WAIT.observe(max(wait, 0.0))


def assignments_failed(n: int) -> None:
    if n:
        ASSIGNMENTS_FAILED.inc(n)


@dataclass
class Shared:
    """The state every process sees alike, read at scrape time."""

    queue_length: int
    oldest_wait_seconds: float
    leaders: dict[str, int]  # status (online, away) -> how many
    agents_online: int
    free_slots: int
    socket_connections: int
    servers: int
    worker_heartbeat_age: dict[str, float] = field(default_factory=dict)  # worker id -> s


class SharedCollector(Collector):
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def collect(self) -> Iterable[Metric]:
        s = self.shared

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"teamtalk_{name}", doc, value=value)

        yield gauge("queue_length", "Requests waiting to be assigned.", s.queue_length)
        yield gauge(
            "queue_oldest_wait_seconds",
            "How long the longest-waiting request has waited (0 with none waiting).",
            s.oldest_wait_seconds,
        )
        leaders = GaugeMetricFamily(
            "teamtalk_leaders_online", "Team leaders online or away.", labels=["status"]
        )
        for status in ("online", "away"):
            leaders.add_metric([status], s.leaders.get(status, 0))
        yield leaders
        yield gauge("agents_online", "Agents with an open socket.", s.agents_online)
        yield gauge("free_slots", "Free basket slots of leaders online (not away).", s.free_slots)
        yield gauge(
            "socket_connections", "Open Socket.IO connections, all servers.", s.socket_connections
        )
        yield gauge("servers", "Web server processes alive.", s.servers)
        age = GaugeMetricFamily(
            "teamtalk_worker_heartbeat_age_seconds",
            "Seconds since each routing worker's last heartbeat.",
            labels=["worker"],
        )
        for worker, seconds in sorted(s.worker_heartbeat_age.items()):
            age.add_metric([worker], seconds)
        yield age


class _ProcessMetrics(Collector):
    def __init__(self, shared_up: bool) -> None:
        self.shared_up = shared_up

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield GaugeMetricFamily(
            "teamtalk_shared_state_up",
            "1 when this scrape read the shared state (database and Redis), else 0.",
            value=int(self.shared_up),
        )


def exposition(shared: Shared | None) -> bytes:
    """This process's metrics and the shared ones (None: they could not be read)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics(shared is not None))
    if shared is not None:
        registry.register(SharedCollector(shared))
    return generate_latest(registry)
