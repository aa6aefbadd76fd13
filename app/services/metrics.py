"""GET /metrics: the contract's figures in Prometheus' text format.

The per-job figures, job counts and queue sizes are read from the database in one read
transaction, so every worker (and every instance) says the same; the histograms and the
leader gauge come from the instruments (:mod:`app.instruments`).

A scrape is answered from a snapshot (:class:`Snapshots`): each process renders the whole
body in the background every METRICS_REFRESH_SECONDS while it is being scraped, so a
scrape reads no database and encodes nothing, and a figure is at most that many seconds
(plus one render) old. A process's first scrape, or one after ten idle minutes, renders
at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import case, func, select

from app.core.calendars import ids_in
from app.core.finals import SLOW
from app.db import utcnow
from app.models import (
    WAITS_FOR_A_WORKER,
    Execution,
    ExecutionCount,
    Job,
    NotificationCount,
    SchedulerState,
)
from app.runtime import Runtime
from app.services import calendars
from app.services.job_reads import jobs_select, next_run_of, schedule_text
from app.services.workers import WORKER_STATES, list_workers
from app.statuses import Status

logger = logging.getLogger("cronwell.metrics")
jobs = Job.__table__
#: Core columns, not ORM attributes: 10,000 rows load in a third of the time.
_JOBS = jobs_select(
    *(
        jobs.c[name]
        for name in (
            "id", "name", "type", "schedule_type", "schedule_config", "timezone", "is_enabled",
            "deleted_at", "sync_pending", "version", "created_at", "updated_at",
            "misfire_grace_seconds", "last_success_at", "last_failure_at", "calendars",
        )
    )
).where(jobs.c.deleted_at.is_(None))  # fmt: skip
_JOB_STATES = select(
    case(
        (Job.deleted_at.is_not(None), "deleted"),
        (Job.is_enabled, "enabled"),
        else_="disabled",
    ).label("state"),
    func.count(),
).group_by("state")
counts = ExecutionCount.__table__
_COUNTS = (
    select(counts.c.job_id, counts.c.status, counts.c.count)
    .join(jobs, jobs.c.id == counts.c.job_id)
    .where(jobs.c.deleted_at.is_(None))
)


def scrape(rt: Runtime, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type (text format, or OpenMetrics if asked)."""
    encoder, content_type = choose_encoder(accept or "")
    refresh = rt.settings.metrics_refresh_seconds
    if refresh <= 0:
        return render(rt, encoder), content_type
    snapshots = rt.caches.get("metrics")
    if snapshots is None:
        snapshots = rt.caches.setdefault("metrics", Snapshots(lambda e: render(rt, e), refresh))
    return snapshots.get(encoder, content_type), content_type


def render(rt: Runtime, encoder: Callable[[CollectorRegistry], bytes]) -> bytes:
    """The whole body, read and encoded now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseFigures(rt))
    registry.register(rt.instruments.collector())
    return encoder(registry)


@dataclass
class _Snapshot:
    body: bytes
    taken: float
    asked: float


class Snapshots:
    """Rendered bodies, one per format, kept fresh by a thread while they are asked for."""

    #: A format not scraped for this long is no longer refreshed.
    IDLE_SECONDS = 600.0

    def __init__(self, render: Callable[[Callable], bytes], refresh_seconds: float) -> None:
        self.render = render
        self.refresh_seconds = refresh_seconds
        self.encoders: dict[str, Callable] = {}
        self.kept: dict[str, _Snapshot] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def get(self, encoder: Callable, content_type: str) -> bytes:
        now = time.monotonic()
        with self.lock:
            kept = self.kept.get(content_type)
            if kept is not None and now - kept.taken <= 2 * self.refresh_seconds + 1:
                kept.asked = now
                return kept.body
        body = self.render(encoder)
        with self.lock:
            self.kept[content_type] = _Snapshot(body, now, now)
            self.encoders[content_type] = encoder
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._refresh, name="cronwell-metrics", daemon=True
                )
                self.thread.start()
        return body

    def _refresh(self) -> None:
        while True:
            time.sleep(self.refresh_seconds)
            now = time.monotonic()
            with self.lock:
                wanted = {
                    content_type: self.encoders[content_type]
                    for content_type, kept in self.kept.items()
                    if now - kept.asked < self.IDLE_SECONDS
                }
                for content_type in set(self.kept) - set(wanted):
                    del self.kept[content_type]
                if not wanted:
                    self.thread = None
                    return
            for content_type, encoder in wanted.items():
                taken = time.monotonic()
                try:
                    body = self.render(encoder)
                except Exception:  # the database away, say: the next round tries again
                    logger.warning("Rendering /metrics failed", exc_info=True)
                    continue
                with self.lock:
                    if content_type in self.kept:
                        self.kept[content_type].body = body
                        self.kept[content_type].taken = taken


class _DatabaseFigures:
    """A collector reading the database at each scrape."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> list[Metric]:
        now = utcnow()
        with self.rt.db.read() as session:
            connection = session.connection()
            job_rows = connection.execute(_JOBS, {"now": now}).all()
            known = calendars.rules(session, list(ids_in(row.calendars for row in job_rows)))
            counts = connection.execute(_COUNTS).all()
            states = dict(session.execute(_JOB_STATES).all())
            notified = dict(
                connection.execute(select(NotificationCount.status, NotificationCount.count)).all()
            )
            running = session.scalar(
                select(func.count())
                .select_from(Execution)
                .where(Execution.status == Status.RUNNING)
            )
            paused = session.scalar(select(SchedulerState.paused).where(SchedulerState.id == 1))
            queued = session.scalar(
                select(func.count())
                .select_from(Execution)
                .where(
                    *WAITS_FOR_A_WORKER,
                    Execution.scheduled_at <= now,
                )
            )
        info = GaugeMetricFamily(
            "cronwell_job_info",
            "One per job not deleted.",
            labels=["job_id", "name", "type", "schedule", "timezone"],
        )
        next_run = GaugeMetricFamily(
            "cronwell_job_next_run_timestamp_seconds",
            "When the job runs next (absent when it has no next run).",
            labels=["job_id"],
        )
        last_success = GaugeMetricFamily(
            "cronwell_job_last_success_timestamp_seconds",
            "When the job's last successful attempt finished.",
            labels=["job_id"],
        )
        last_failure = GaugeMetricFamily(
            "cronwell_job_last_failure_timestamp_seconds",
            "When the job's last failed attempt (failed, timeout, interrupted) finished.",
            labels=["job_id"],
        )
        for row in job_rows:
            info.add_metric([row.id, row.name, row.type, schedule_text(row), row.timezone], 1)
            upcoming = next_run_of(row, row.next_run_time, row.planned_at)
            if row.calendars:  # the next fire that will run
                upcoming = calendars.skip_excluded(known, row, upcoming)
            if upcoming is not None:
                next_run.add_metric([row.id], upcoming.timestamp())
            if row.last_success_at is not None:
                last_success.add_metric([row.id], row.last_success_at.timestamp())
            if row.last_failure_at is not None:
                last_failure.add_metric([row.id], row.last_failure_at.timestamp())
        executions = CounterMetricFamily(
            "cronwell_executions",
            "Executions that reached a final status, over the job's life.",
            labels=["job_id", "status"],
        )
        slow = CounterMetricFamily(
            "cronwell_executions_slow",
            "Executions that ran past their job's expected_duration_seconds.",
            labels=["job_id"],
        )
        for job_id, status, count in counts:
            if status == SLOW:  # kept beside the final statuses, not one of them
                slow.add_metric([job_id], count)
            else:
                executions.add_metric([job_id, status], count)
        notifications = CounterMetricFamily(
            "cronwell_notifications",
            "Notification tries, by result (sent: the receiver took it).",
            labels=["status"],
        )
        for status in ("sent", "failed"):
            notifications.add_metric([status], notified.get(status, 0))
        job_counts = GaugeMetricFamily("cronwell_jobs", "Jobs by state.", labels=["state"])
        for state in ("enabled", "disabled", "deleted"):
            job_counts.add_metric([state], states.get(state, 0))
        return [
            *self._worker_figures(),
            executions,
            slow,
            GaugeMetricFamily("cronwell_executions_running", "Running now.", value=running),
            GaugeMetricFamily(
                "cronwell_executions_queued", "Due and waiting for a slot.", value=queued
            ),
            job_counts,
            GaugeMetricFamily(
                "cronwell_scheduler_paused",
                "1 while the service is paused (every scheduled fire skipped), else 0.",
                value=1 if paused else 0,
            ),
            info,
            next_run,
            last_success,
            last_failure,
            notifications,
        ]

    def _worker_figures(self) -> list[Metric]:
        workers = list_workers(self.rt)
        by_state = GaugeMetricFamily(
            "cronwell_workers",
            "Worker processes seen in the last 10 minutes, by state (lost: no heartbeat "
            "for a lease).",
            labels=["state"],
        )
        for state in WORKER_STATES:
            by_state.add_metric([state], sum(w["state"] == state for w in workers))
        running = GaugeMetricFamily(
            "cronwell_worker_running",
            "Executions each live worker ran at its last heartbeat.",
            labels=["worker"],
        )
        for worker in workers:
            if worker["state"] == "alive":
                running.add_metric([worker["id"]], worker["running"])
        return [by_state, running]
