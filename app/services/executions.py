"""Execution operations shared by both HTTP APIs: run now, history, cancel."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import func, insert, or_, select

from app.core.finals import Final, apply_outcome, settle
from app.db import utcnow
from app.errors import (
    ExecutionNotFound,
    JobConflict,
    JobNotFound,
    MonitorRunsNothing,
    RunInProgress,
)
from app.jobtypes.heartbeat import HEARTBEAT
from app.models import PING_HOLDER, Execution, Job
from app.runtime import Runtime
from app.services import audit, notifications
from app.services.job_reads import load_job
from app.statuses import ACTIVE_STATUSES, Status, Trigger

IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
#: The largest id the database can hold (a 64-bit integer).
MAX_ID = 2**63 - 1
CANCEL_WAIT_SECONDS = 2.0


def run_now(
    rt: Runtime,
    job_id: str,
    idempotency_key: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Execution, bool]:
    """Queue a manual run (even of a disabled job); (execution, created).

    With overlap_policy ``skip`` and a run in progress: :class:`JobConflict`. A repeated
    ``idempotency_key`` within 24 hours returns the execution it started. ``overrides``
    are configuration keys for this run only: merged over the job's and checked by its
    type's schema (errors name ``configuration.<key>``).
    """
    now = utcnow()
    with rt.db.write() as session:
        job = session.execute(
            select(Job.overlap_policy, Job.type, Job.configuration).where(
                Job.id == job_id, Job.deleted_at.is_(None)
            )
        ).first()
        if job is None:
            raise JobNotFound(job_id)
        if job.type == HEARTBEAT:
            raise MonitorRunsNothing(job_id)
        overlap_policy = job.overlap_policy
        if idempotency_key:
            previous = session.scalar(
                select(Execution).where(
                    Execution.job_id == job_id, Execution.idempotency_key == idempotency_key
                )
            )
            if previous is not None and now - previous.created_at < IDEMPOTENCY_WINDOW:
                notifications.attach(session, [previous])
                return previous, False
            if previous is not None:
                previous.idempotency_key = None  # expired: the key may start a new run
                session.flush()
        if overrides is not None:
            rt.registry.validate(job.type, {**(job.configuration or {}), **overrides})
        if overlap_policy == "skip":
            busy = session.scalar(
                select(Execution.id)
                .where(
                    Execution.job_id == job_id,
                    or_(
                        Execution.status == Status.RUNNING,
                        (Execution.status == Status.QUEUED) & (Execution.scheduled_at <= now),
                    ),
                )
                .limit(1)
            )
            if busy is not None:
                raise RunInProgress(job_id, busy)
        values = {
            "job_id": job_id,
            "status": Status.QUEUED,
            "trigger": Trigger.MANUAL,
            "attempt": 1,
            "scheduled_at": now,
            "idempotency_key": idempotency_key or None,
            "configuration_overrides": overrides,
            "created_at": now,
            "output_truncated": False,
            "cancel_requested": False,
            "slow": False,
        }
        # Core, not the unit of work: the run starts sooner (the answer is built from
        # the values written, never added to a session).
        execution_id = session.execute(
            insert(Execution).values(values).returning(Execution.id)
        ).scalar_one()
        ran = {"execution": [None, execution_id]}
        if overrides is not None:
            ran["configuration"] = [None, overrides]
        audit.record(session, "job.run", f"job:{job_id}", ran)
    rt.scheduler.wake(execution_id)
    execution = Execution(id=execution_id, **values)
    execution.notifications = []
    return execution, True


def list_executions(
    rt: Runtime,
    job_id: str,
    status: str | None,
    page: int,
    page_size: int,
    *,
    include_deleted: bool = False,
    trigger: str | None = None,
) -> tuple[list[Execution], int]:
    """A page of the job's executions (of one status, one trigger), newest first, and
    their total."""
    with rt.db.read() as session:
        load_job(session, job_id, include_deleted=include_deleted)
        conditions = [Execution.job_id == job_id]
        if status:
            conditions.append(Execution.status == status)
        if trigger:
            conditions.append(Execution.trigger == trigger)
        total = session.scalar(select(func.count()).select_from(Execution).where(*conditions))
        items = session.scalars(
            select(Execution)
            .where(*conditions)
            .order_by(Execution.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        notifications.attach(session, items)
        return list(items), int(total or 0)


def _load_execution(
    session, job_id: str, execution_id: int, include_deleted: bool = False
) -> Execution:
    """The job's execution ``execution_id``; ExecutionNotFound if there is none."""
    load_job(session, job_id, include_deleted=include_deleted)
    execution = _execution_by_id(session, execution_id)
    if execution is None or execution.job_id != job_id:
        raise ExecutionNotFound(job_id, execution_id)
    return execution


def _execution_by_id(session, execution_id: int) -> Execution | None:
    """The execution with this id, of any job (None for ids no row can have)."""
    return session.get(Execution, execution_id) if 0 < execution_id <= MAX_ID else None


def get_execution(
    rt: Runtime, job_id: str, execution_id: int, *, include_deleted: bool = False
) -> Execution:
    with rt.db.read() as session:
        execution = _load_execution(session, job_id, execution_id, include_deleted)
        notifications.attach(session, [execution])
        return execution


def find_execution(rt: Runtime, execution_id: int) -> Execution:
    """An execution by its id alone (of any job, deleted ones included)."""
    with rt.db.read() as session:
        execution = _execution_by_id(session, execution_id)
        if execution is None:
            raise ExecutionNotFound(None, execution_id)
        return execution


def cancel_execution(rt: Runtime, job_id: str, execution_id: int) -> Execution:
    """Stop a queued or running execution; it is recorded ``cancelled``."""
    with rt.db.write() as session:
        execution = _load_execution(session, job_id, execution_id)
        if execution.status not in ACTIVE_STATUSES:
            raise JobConflict(
                f"Execution {execution_id} already finished ({execution.status}).",
                {"status": [f"Already {execution.status}."]},
            )
        # Queued, or a monitor's started run (no worker runs it): ended here.
        ended_here = execution.status == Status.QUEUED or execution.worker == PING_HOLDER
        audit.record(
            session,
            "execution.cancel",
            f"job:{job_id}",
            {"execution": [execution_id, execution_id], "status": [execution.status, "cancelled"]},
        )
        if ended_here:
            now = utcnow()
            if execution.started_at is not None:
                execution.duration_ms = int((now - execution.started_at).total_seconds() * 1000)
            execution.error = (
                "Cancelled on request before it started."
                if execution.status == Status.QUEUED
                else "Cancelled on request while the monitored job ran."
            )
            if execution.started_at is not None:  # it ran: the job's counters count it
                apply_outcome(
                    session.connection(), job_id, Status.CANCELLED, execution.started_at,
                    now, execution.duration_ms, execution.error,
                )  # fmt: skip
            execution.status = Status.CANCELLED
            execution.finished_at = now
            execution.lease_until = None
            session.flush()
            settle(
                session.connection(), [Final(execution_id, job_id, Status.CANCELLED)], rt.settings
            )
        else:
            execution.cancel_requested = True
    # Queued: dropped from this process's ready queue. Running: the leader's runner stops
    # it (at once here, else at its next poll).
    rt.scheduler.cancel(execution_id)
    if ended_here:
        execution.notifications = []
        return execution
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while True:
        execution = get_execution(rt, job_id, execution_id)
        if execution.status not in ACTIVE_STATUSES or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)
