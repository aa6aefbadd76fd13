"""The figures only a running process sees, for /metrics: lateness and duration
histograms, and leadership (prometheus-client instruments).

Under gunicorn every worker is a process of its own, and only the leader runs jobs. The
instruments then use prometheus-client's multiprocess mode: gunicorn.conf.py sets
``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, each process writes its values
to files there, and a scrape in any worker reads them all (:meth:`Instruments.collector`),
so every worker answers with the same figures. Without that variable (one process: an
embedding application, the tests), they live in a registry of the app's own.

The per-job figures and the notification counts are not here: /metrics reads them from
the database (:mod:`app.services.metrics`).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

# The *_created samples exist only in one process's registry: without them a scrape
# says the same in both modes.
disable_created_metrics()


class Instruments:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        # Multiprocess: the values go to files, read back by a collector per scrape.
        self.registry = None if self.multiprocess else CollectorRegistry()
        self.lateness = Histogram(
            "cronwell_schedule_lateness_seconds",
            "Start time minus scheduled time of scheduled runs.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "cronwell_execution_duration_seconds",
            "Duration of finished attempts, by job type.",
            ["type"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "cronwell_scheduler_leader",
            "1 where this instance holds the scheduler, else 0.",
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self.leader.set(0)

    def collector(self) -> Collector:
        """What a scrape reads these from (every process's values in multiprocess mode)."""
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
        return registry
