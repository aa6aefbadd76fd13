"""Writing run transitions in sets: starts, outcomes, job counters and retries.

One call writes a whole batch with a handful of statements (a status read, then
``executemany`` updates and inserts), whatever its size: per-row ORM work was the
bottleneck of a burst. Each row is still guarded: a start or a skip applies only to a row
that is ``queued``, an outcome only to one that is ``running`` (as the batch itself leaves
them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from app.models import FAILED_STATUSES, RAN_STATUSES, Execution, Job

executions = Execution.__table__
jobs = Job.__table__
#: A job's counters and last_* fields after one or more outcomes (b_runs, b_ok, b_failed:
#: how many to add).
_JOB_OUTCOME = (
    update(jobs)
    .where(jobs.c.id == bindparam("b_job"))
    .values(
        run_count=jobs.c.run_count + bindparam("b_runs"),
        success_count=jobs.c.success_count + bindparam("b_ok"),
        fail_count=jobs.c.fail_count + bindparam("b_failed"),
        last_run_at=bindparam("b_last_run_at"),
        last_status=bindparam("b_last_status"),
        last_duration_ms=bindparam("b_last_duration_ms"),
        last_error=bindparam("b_last_error"),
    )
)


@dataclass(frozen=True)
class StartRecord:
    execution_id: int
    started_at: dt.datetime


@dataclass(frozen=True)
class SkipRecord:
    """A scheduled fire not run because its job's previous run was still running."""

    execution_id: int
    finished_at: dt.datetime
    error: str


@dataclass(frozen=True)
class OutcomeRecord:
    execution_id: int
    job_id: str
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime
    duration_ms: int | None
    result: dict[str, Any] | None
    output: str | None
    output_truncated: bool
    error: str | None
    retry_at: dt.datetime | None = None  # set when another attempt should follow
    attempt: int = 1
    retry_of: int | None = None


def counter_deltas(status: str) -> tuple[int, int, int]:
    """(runs, successes, failures) an outcome adds to its job's counters."""
    if status not in RAN_STATUSES:
        return 0, 0, 0
    return 1, int(status == "success"), int(status in FAILED_STATUSES)


def record(
    connection: Connection, items: list[StartRecord | OutcomeRecord | SkipRecord]
) -> set[int]:
    """Write a batch in order; return the ids whose start found the row no longer queued."""
    ids = {item.execution_id for item in items}
    state = dict(
        connection.execute(
            select(executions.c.id, executions.c.status).where(executions.c.id.in_(ids))
        ).all()
    )
    starts: list[dict[str, Any]] = []
    skips: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    retries: list[dict[str, Any]] = []
    per_job: dict[str, dict[str, Any]] = {}
    lost: set[int] = set()
    for item in items:
        current = state.get(item.execution_id)
        if isinstance(item, StartRecord):
            if current == "queued":
                starts.append({"b_id": item.execution_id, "b_started_at": item.started_at})
                state[item.execution_id] = "running"
            else:
                lost.add(item.execution_id)
            continue
        if isinstance(item, SkipRecord):
            if current == "queued":
                skips.append(
                    {
                        "b_id": item.execution_id,
                        "b_finished_at": item.finished_at,
                        "b_error": item.error,
                    }
                )
                state[item.execution_id] = "skipped"
            continue
        if current != "running":
            continue  # already final (cancelled, interrupted) or never started
        state[item.execution_id] = item.status
        outcomes.append(
            {
                "b_id": item.execution_id,
                "b_status": item.status,
                "b_finished_at": item.finished_at,
                "b_duration_ms": item.duration_ms,
                "b_result": item.result or None,
                "b_output": item.output,
                "b_output_truncated": item.output_truncated,
                "b_error": item.error,
            }
        )
        runs, successes, failures = counter_deltas(item.status)
        job = per_job.setdefault(
            item.job_id, {"b_job": item.job_id, "b_runs": 0, "b_ok": 0, "b_failed": 0}
        )
        job["b_runs"] += runs
        job["b_ok"] += successes
        job["b_failed"] += failures
        job.update(
            b_last_run_at=item.started_at,
            b_last_status=item.status,
            b_last_duration_ms=item.duration_ms,
            b_last_error=item.error,
        )
        if item.retry_at is not None:
            retries.append(
                {
                    "job_id": item.job_id,
                    "status": "queued",
                    "trigger": "retry",
                    "attempt": item.attempt + 1,
                    "retry_of": item.retry_of or item.execution_id,
                    "scheduled_at": item.retry_at,
                    "created_at": item.finished_at,
                    "output_truncated": False,
                    "cancel_requested": False,
                }
            )
    row = executions.c.id == bindparam("b_id")
    if starts:
        connection.execute(
            update(executions)
            .where(row)
            .values(status="running", started_at=bindparam("b_started_at")),
            starts,
        )
    if skips:
        connection.execute(
            update(executions)
            .where(row)
            .values(
                status="skipped", finished_at=bindparam("b_finished_at"), error=bindparam("b_error")
            ),
            skips,
        )
    if outcomes:
        connection.execute(
            update(executions)
            .where(row)
            .values(
                status=bindparam("b_status"),
                finished_at=bindparam("b_finished_at"),
                duration_ms=bindparam("b_duration_ms"),
                result=bindparam("b_result"),
                output=bindparam("b_output"),
                output_truncated=bindparam("b_output_truncated"),
                error=bindparam("b_error"),
            ),
            outcomes,
        )
    if per_job:
        connection.execute(_JOB_OUTCOME, list(per_job.values()))
    if retries:
        connection.execute(insert(executions), retries)
    return lost


def apply_outcome(
    connection,
    job_id: str,
    status: str,
    started_at: dt.datetime | None,
    duration_ms: int | None,
    error: str | None,
) -> None:
    """One job's counters and last_* fields for one finished attempt (crash recovery)."""
    runs, successes, failures = counter_deltas(status)
    if not runs:
        return
    connection.execute(
        _JOB_OUTCOME,
        {
            "b_job": job_id,
            "b_runs": runs,
            "b_ok": successes,
            "b_failed": failures,
            "b_last_run_at": started_at,
            "b_last_status": status,
            "b_last_duration_ms": duration_ms,
            "b_last_error": error,
        },
    )
