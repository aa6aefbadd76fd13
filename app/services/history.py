"""History at a glance: a job's last runs (for the job page's chart), their success rate
and durations, and the last error; and every job's runs of the last 24 hours, by hour and
status (the dashboard's chart)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from app.db import hour_of, utcnow
from app.models import Execution
from app.runtime import Runtime
from app.statuses import FAILED_STATUSES, FINAL_STATUSES, RAN_STATUSES, Status

#: The runs the chart and the figures cover.
HISTORY_RUNS = 100


@dataclass(frozen=True)
class Mark:
    """One finished run, as the chart draws it."""

    id: int
    status: str
    duration_ms: int | None
    at: dt.datetime | None
    error: str | None


@dataclass(frozen=True)
class History:
    marks: list[Mark]  # oldest first
    ran: int  # of them, runs that ran (not skipped or missed)
    succeeded: int
    p50_ms: float | None
    p95_ms: float | None
    last_error: Mark | None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.ran if self.ran else None

    @property
    def longest_ms(self) -> int:
        return max((m.duration_ms or 0 for m in self.marks), default=0)


def _nearest_rank(ordered: list[int], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def job_history(rt: Runtime, job_id: str, limit: int = HISTORY_RUNS) -> History:
    """The job's last ``limit`` finished runs and what they add up to."""
    query = (
        select(
            Execution.id, Execution.status, Execution.duration_ms,
            Execution.started_at, Execution.scheduled_at, Execution.error,
        )
        .where(Execution.job_id == job_id, Execution.status.in_(FINAL_STATUSES))
        .order_by(Execution.id.desc())
        .limit(limit)
    )  # fmt: skip
    with rt.db.read() as session:
        rows = session.execute(query).all()
    marks = [
        Mark(row.id, row.status, row.duration_ms, row.started_at or row.scheduled_at, row.error)
        for row in reversed(rows)
    ]
    ran = [m for m in marks if m.status in RAN_STATUSES]
    durations = sorted(m.duration_ms for m in ran if m.duration_ms is not None)
    failures = [m for m in marks if m.status in FAILED_STATUSES]
    return History(
        marks=marks,
        ran=len(ran),
        succeeded=sum(m.status == Status.SUCCESS for m in ran),
        p50_ms=_nearest_rank(durations, 0.5),
        p95_ms=_nearest_rank(durations, 0.95),
        last_error=failures[-1] if failures else None,
    )


#: The dashboard's chart is counted again at most this often (seconds) in each process:
#: counting a day of runs reads every one of them.
DAY_CHART_SECONDS = 60.0


@dataclass(frozen=True)
class Hour:
    start: dt.datetime  # UTC
    counts: dict[str, int]  # by final status

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def last_day(rt: Runtime) -> list[Hour]:
    """The runs that ended in each of the last 24 hours (oldest first), by status,
    counted at most every DAY_CHART_SECONDS in this process."""
    kept = rt.caches.get("last_day")
    if kept is not None and time.monotonic() - kept[0] < DAY_CHART_SECONDS:
        return kept[1]
    now = utcnow()
    first = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=23)
    with rt.db.read() as session:
        hour = hour_of(Execution.scheduled_at, session.bind.dialect.name)
        rows = session.execute(
            select(hour, Execution.status, func.count())
            .where(Execution.status.in_(FINAL_STATUSES), Execution.scheduled_at >= first)
            .group_by(hour, Execution.status)
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for key, status, count in rows:
        counts.setdefault(key, {})[status] = count
    hours = []
    for n in range(24):
        start = first + dt.timedelta(hours=n)
        hours.append(Hour(start, counts.get(start.strftime("%Y-%m-%d %H"), {})))
    rt.caches["last_day"] = (time.monotonic(), hours)
    return hours
