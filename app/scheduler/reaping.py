"""What ended leases leave, for the leader: :func:`reap_expired` records ``interrupted``
the running rows whose lease ended (their worker crashed, froze or was cut off), queues
their retries by the job's policy for any worker to claim, and records ``missed`` the due
runs whose ``run_on`` no live worker matches, once their grace time has passed. A
heartbeat monitor's rows are no worker's: their deadlines are :mod:`app.core.pings`'.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, String, cast, delete, func, insert, select, update

from app.config import Settings
from app.core.finals import Final, Settled, apply_outcome, settle
from app.db import utcnow
from app.models import (
    PING_HOLDER,
    WAITS_FOR_A_WORKER,
    WORKERS_SHOWN_SECONDS,
    Execution,
    Job,
    Worker,
)
from app.scheduler.recorder import next_retry_at, retry_row
from app.statuses import Status

executions = Execution.__table__
workers = Worker.__table__


def reap_expired(
    connection: Connection, settings: Settings
) -> tuple[list[tuple[int, str]], Settled]:
    """Record ``interrupted`` the running rows whose lease ended (or that have none: left
    by a version without leases), queue their retries by their job's policy, and forget
    workers long gone. Returns the (id, worker) of each run interrupted and what settling
    them wrote."""
    now = utcnow()
    rows = connection.execute(
        select(
            executions.c.id,
            executions.c.job_id,
            executions.c.started_at,
            executions.c.worker,
            executions.c.attempt,
            executions.c.retry_of,
            executions.c.configuration_overrides,
            Job.retry_count,
            Job.retry_delay_seconds,
        )
        .join(Job, Job.id == executions.c.job_id)
        .where(
            executions.c.status == Status.RUNNING,
            (executions.c.lease_until < now) | executions.c.lease_until.is_(None),
            # A monitor's started run is no worker's: its deadline is the pings' (below).
            func.coalesce(executions.c.worker, "") != PING_HOLDER,
        )
        .with_for_update(of=executions)
    ).all()
    finals: list[Final] = []
    retries: list[dict[str, Any]] = []
    for row in rows:
        duration = int((now - row.started_at).total_seconds() * 1000) if row.started_at else None
        error = (
            f"The worker running it ({row.worker}) stopped renewing its lease: it crashed, "
            "froze or lost the database."
            if row.worker
            else "The service stopped while this run was in progress."
        )
        connection.execute(
            update(executions)
            .where(executions.c.id == row.id, executions.c.status == Status.RUNNING)
            .values(status=Status.INTERRUPTED, finished_at=now, duration_ms=duration, error=error)
        )
        apply_outcome(
            connection, row.job_id, Status.INTERRUPTED, row.started_at, now, duration, error
        )
        retrying = row.attempt <= row.retry_count
        finals.append(Final(row.id, row.job_id, Status.INTERRUPTED, retrying))
        if retrying:
            due = next_retry_at(now, row.retry_delay_seconds, row.attempt)
            retries.append(
                retry_row(
                    row.job_id, row.attempt, row.retry_of or row.id, due, now,
                    row.configuration_overrides,
                )
            )  # fmt: skip
    if retries:
        connection.execute(insert(executions), retries)
    gone = now - dt.timedelta(seconds=WORKERS_SHOWN_SECONDS)
    connection.execute(delete(workers).where(workers.c.heartbeat_at < gone))
    finals.extend(_miss_unplaceable(connection, now, settings.lease_seconds))
    settled = settle(connection, finals, settings) if finals else Settled()
    return [(row.id, row.worker or "") for row in rows], settled


def _miss_unplaceable(connection: Connection, now: dt.datetime, lease: float) -> list[Final]:
    """Record ``missed`` the due runs whose ``run_on`` no live worker matches, once their
    job's grace time has passed: they would wait for good otherwise."""
    due = select(executions.c.id).where(*WAITS_FOR_A_WORKER, executions.c.scheduled_at <= now)
    if connection.scalar(due.limit(1)) is None:
        return []  # nothing due waits (read from the queue's index): no job needs reading
    labeled = {
        row.id: row
        for row in connection.execute(
            select(Job.id, Job.run_on, Job.misfire_grace_seconds).where(
                Job.deleted_at.is_(None), cast(Job.run_on, String) != "{}"
            )
        )
    }
    if not labeled:
        return []
    # The queued rows of those jobs (few), looked up by job and status
    # (ix_executions_job_status); the other conditions are checked here: SQLite, given
    # them too, chose the run queue's index and read every due row of a backlog.
    queued = connection.execute(
        select(
            executions.c.id,
            executions.c.job_id,
            executions.c.scheduled_at,
            executions.c.start_after,
            executions.c.worker,
        )
        .where(executions.c.job_id.in_(list(labeled)), executions.c.status == Status.QUEUED)
        .limit(5000)
    ).all()
    waiting = [
        (row, labeled[row.job_id])
        for row in queued
        if row.worker is None
        and row.scheduled_at <= now
        and (now - (row.start_after or row.scheduled_at)).total_seconds()
        > labeled[row.job_id].misfire_grace_seconds
    ]
    if not waiting:
        return []
    alive = now - dt.timedelta(seconds=lease)
    labels = connection.scalars(
        select(workers.c.labels).where(workers.c.heartbeat_at >= alive, workers.c.capacity > 0)
    ).all()
    ended: list[Final] = []
    for row, job in waiting:
        if any(all((have or {}).get(k) == v for k, v in job.run_on.items()) for have in labels):
            continue  # a worker that may run it is alive: it is only late
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(job.run_on.items()))
        changed = connection.execute(
            update(executions)
            .where(executions.c.id == row.id, executions.c.status == Status.QUEUED)
            .values(
                status=Status.MISSED,
                finished_at=now,
                error=f"No live worker has the labels run_on asks for ({wanted}) "
                f"within misfire_grace_seconds ({job.misfire_grace_seconds}).",
            )
        ).rowcount
        if changed:
            ended.append(Final(row.id, row.job_id, Status.MISSED))
    return ended
