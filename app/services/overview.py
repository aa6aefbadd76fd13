"""What the dashboard shows: runs going on now, the next fires, recent failures and misses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from app.db import utcnow
from app.models import WAITS_FOR_A_WORKER, Execution, Job, job_store_table
from app.runtime import Runtime
from app.services.job_reads import jobs_select, next_run_of
from app.statuses import FAILED_STATUSES, Status

#: The statuses the dashboard lists as problems, newest first.
PROBLEM_STATUSES = (*FAILED_STATUSES, Status.MISSED)


@dataclass
class RunLine:
    """One run on the dashboard, with its job's name and timezone."""

    execution: Execution
    job_name: str
    timezone: str


@dataclass
class UpcomingFire:
    job_id: str
    job_name: str
    timezone: str
    next_run_at: Any


def _with_jobs(session, executions: list[Execution]) -> list[RunLine]:
    ids = {e.job_id for e in executions}
    jobs = dict(
        (row.id, (row.name, row.timezone))
        for row in session.execute(select(Job.id, Job.name, Job.timezone).where(Job.id.in_(ids)))
    )
    return [RunLine(e, *jobs.get(e.job_id, (e.job_id, "UTC"))) for e in executions]


def active_runs(rt: Runtime, limit: int = 50) -> list[RunLine]:
    """Runs going on now (running, then queued ones that are due), oldest first."""
    with rt.db.read() as session:
        running = session.scalars(
            select(Execution)
            .where(Execution.status == Status.RUNNING)
            .order_by(Execution.started_at)
            .limit(limit)
        ).all()
        due = session.scalars(
            select(Execution)
            .where(
                *WAITS_FOR_A_WORKER,
                Execution.scheduled_at <= utcnow(),
            )
            .order_by(Execution.scheduled_at)
            .limit(limit)
        ).all()
        return _with_jobs(session, [*running, *due][:limit])


def recent_problems(rt: Runtime, limit: int = 10) -> list[RunLine]:
    """The newest runs that failed, timed out, were interrupted or were missed.

    One indexed read per status (status, scheduled_at), merged: a single query over the
    four would sort every such row of the history.
    """
    with rt.db.read() as session:
        found: list[Execution] = []
        for status in PROBLEM_STATUSES:
            found.extend(
                session.scalars(
                    select(Execution)
                    .where(Execution.status == status)
                    .order_by(Execution.scheduled_at.desc())
                    .limit(limit)
                ).all()
            )
        found.sort(key=lambda e: e.scheduled_at, reverse=True)
        return _with_jobs(session, found[:limit])


_UPCOMING = (
    jobs_select()
    .where(
        Job.deleted_at.is_(None),
        Job.is_enabled.is_(True),
        job_store_table.c.next_run_time.is_not(None),
    )
    .order_by(job_store_table.c.next_run_time)
    .limit(bindparam("limit"))
)


def upcoming_fires(rt: Runtime, limit: int = 10) -> list[UpcomingFire]:
    """The jobs that fire next, soonest first."""
    with rt.db.read() as session:
        rows = session.execute(_UPCOMING, {"now": utcnow(), "limit": limit}).all()
    fires = [
        UpcomingFire(job.id, job.name, job.timezone, next_run_of(job, next_run_time, planned))
        for job, next_run_time, planned in rows
    ]
    return sorted((f for f in fires if f.next_run_at is not None), key=lambda f: f.next_run_at)
