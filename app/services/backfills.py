"""Backfills: the runs of a time range of one job's schedule, in time order, one at a time.

Starting one writes the backfill (every fire time it stands for) and queues its first run
(trigger ``backfill``, ``scheduled_at`` the fire's time); each later run is queued when
the one before it is final, in that final's own transaction
(:func:`app.core.finals.queue_next_backfill_run`), so two never overlap and a crash
loses none. Backfills run while the service is paused, as run-now does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, insert, select, update

from app.core.calendars import excluded_by
from app.core.finals import Final, queue_next_backfill_run, settle
from app.core.schedules import fire_times_between
from app.db import utcnow
from app.errors import MonitorRunsNothing, NotFound, Problems, ValidationFailed
from app.jobtypes.heartbeat import HEARTBEAT
from app.models import Backfill, Execution, schedule_changed_at
from app.runtime import Runtime
from app.services import audit, calendars
from app.services.access import current_caller
from app.services.job_reads import get_job, schedule_of
from app.statuses import FINAL_STATUSES, Status

MAX_RUNS = 1000
DEFAULT_MAX_RUNS = 100
#: Fires looked at when calendars may leave some out.
SCAN_LIMIT = 20_000


def start_backfill(
    rt: Runtime, job_id: str, start: dt.datetime, end: dt.datetime, max_runs: int
) -> dict[str, Any]:
    """Queue the first run of a backfill of [``start``, ``end``]; what it will run."""
    job = get_job(rt, job_id)
    if job.type == HEARTBEAT:
        raise MonitorRunsNothing(job_id)
    problems = Problems()
    now = utcnow()
    if end > now:
        problems.note({"end": ["Must not be in the future: a backfill runs fires that passed."]})
    if end < start:
        problems.note({"end": ["Must not be before start."]})
    problems.raise_if_any()
    since = schedule_changed_at(job)
    if job.calendars:  # the fires they exclude are left out, and not counted
        with rt.db.read() as session:
            known = calendars.rules(session, job.calendars)
        mine = [known[i] for i in job.calendars if i in known]
        every = fire_times_between(schedule_of(job), start, end, since, SCAN_LIMIT)
        fires = [fire for fire in every if excluded_by(mine, fire) is None][: max_runs + 1]
    else:
        fires = fire_times_between(schedule_of(job), start, end, since, max_runs)
    if not fires:
        raise ValidationFailed("start", "No fire of the job's schedule falls in this range.")
    if len(fires) > max_runs:
        raise ValidationFailed(
            "max_runs",
            f"The range holds more than {max_runs} fires: narrow it, or raise max_runs "
            f"(at most {MAX_RUNS}).",
        )
    with rt.db.write_connection() as connection:
        backfill_id = connection.execute(
            insert(Backfill)
            .values(
                job_id=job_id,
                start=start,
                end=end,
                fires=[fire.isoformat() for fire in fires],
                queued=0,
                created_at=now,
                created_by=current_caller().actor,
            )
            .returning(Backfill.id)
        ).scalar_one()
        first = queue_next_backfill_run(connection, backfill_id)
        audit.record(
            connection,
            "job.backfill",
            f"job:{job_id}",
            {"backfill": [None, backfill_id], "start": [None, start.isoformat()],
             "end": [None, end.isoformat()], "runs": [None, len(fires)]},
        )  # fmt: skip
    if first is not None:
        rt.scheduler.wake(first)
    return {"backfill_id": backfill_id, "runs": len(fires), "first": fires[0], "last": fires[-1]}


def list_backfills(rt: Runtime, job_id: str) -> list[dict[str, Any]]:
    """The job's backfills, newest first, with their progress."""
    get_job(rt, job_id, include_deleted=True)
    finished = func.sum(case((Execution.status.in_(FINAL_STATUSES), 1), else_=0))
    succeeded = func.sum(case((Execution.status == Status.SUCCESS, 1), else_=0))
    with rt.db.read() as session:
        rows = session.execute(
            select(Backfill, finished, succeeded)
            .outerjoin(Execution, Execution.backfill_id == Backfill.id)
            .where(Backfill.job_id == job_id)
            .group_by(Backfill.id)
            .order_by(Backfill.id.desc())
        ).all()
    shown = []
    for backfill, done, ok in rows:
        runs, done = len(backfill.fires), int(done or 0)
        state = "running"
        if backfill.cancelled_at is not None:
            state = "cancelled"
        elif done >= runs:
            state = "done"
        shown.append(
            {
                "id": backfill.id,
                "start": backfill.start,
                "end": backfill.end,
                "runs": runs,
                "done": done,
                "succeeded": int(ok or 0),
                "state": state,
                "created_at": backfill.created_at,
                "created_by": backfill.created_by,
                "cancelled_at": backfill.cancelled_at,
            }
        )
    return shown


def cancel_backfill(rt: Runtime, job_id: str, backfill_id: int) -> dict[str, Any]:
    """Queue no more of its runs, and cancel the one queued (a running one finishes)."""
    now = utcnow()
    cancelled: list[int] = []
    with rt.db.write() as session:
        backfill = session.get(Backfill, backfill_id, with_for_update=True)
        if backfill is None or backfill.job_id != job_id:
            raise NotFound(f"Job {job_id!r} has no backfill {backfill_id}.")
        if backfill.cancelled_at is None:
            backfill.cancelled_at = now
            session.flush()
            cancelled = list(
                session.scalars(
                    update(Execution)
                    .where(Execution.backfill_id == backfill_id, Execution.status == Status.QUEUED)
                    .values(
                        status=Status.CANCELLED,
                        finished_at=now,
                        error="The backfill was cancelled.",
                    )
                    .returning(Execution.id)
                    .execution_options(synchronize_session=False)
                )
            )
            finals = [Final(execution_id, job_id, Status.CANCELLED) for execution_id in cancelled]
            settle(session.connection(), finals, rt.settings)
            audit.record(
                session, "job.backfill_cancel", f"job:{job_id}", {"backfill": [backfill_id, None]}
            )
    for execution_id in cancelled:
        rt.scheduler.cancel(execution_id)
    return next(b for b in list_backfills(rt, job_id) if b["id"] == backfill_id)
