"""Pausing the whole service: while paused, every scheduled fire is recorded ``skipped``
(``paused: <reason>``) instead of running, on every worker; run-now, retries and chains
still run. The pause is a database row, so it holds across restarts and hosts.

Pausing also skips the scheduled runs already queued and not started (fires written
ahead, and due ones waiting for a slot), in the same transaction: a worker's claim of
one then matches no row, and nothing starts. The scheduler's pass reads the row in its
own transaction (app/scheduler/intake.py), locked against a pause committing meanwhile.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, select, update

from app.core.finals import Final, settle
from app.db import utcnow
from app.jobtypes.heartbeat import HEARTBEAT
from app.models import PAUSED_PREFIX, Execution, Job, SchedulerState
from app.runtime import Runtime
from app.services import audit
from app.services.access import current_caller
from app.statuses import Status, Trigger


def state(rt: Runtime) -> dict[str, Any]:
    """``paused``, ``paused_at``, ``paused_by`` and ``pause_reason``."""
    with rt.db.read() as session:
        row = session.get(SchedulerState, 1)
    return _shown(row)


def _shown(row: SchedulerState | None) -> dict[str, Any]:
    if row is None or not row.paused:
        return {"paused": False, "paused_at": None, "paused_by": None, "pause_reason": None}
    return {
        "paused": True,
        "paused_at": row.paused_at,
        "paused_by": row.paused_by,
        "pause_reason": row.pause_reason,
    }


def _row(session: Any) -> SchedulerState:
    row = session.get(SchedulerState, 1, with_for_update=True)
    if row is None:
        row = SchedulerState(id=1, paused=False)
        session.add(row)
    return row


def pause(rt: Runtime, reason: str | None) -> dict[str, Any]:
    """Pause every scheduled fire (pausing a paused service changes nothing)."""
    reason = (reason or "").strip() or "no reason given"
    skipped: list[tuple[int, str]] = []
    with rt.db.write() as session:
        row = _row(session)
        if not row.paused:
            now = utcnow()
            row.paused, row.paused_at = True, now
            row.paused_by, row.pause_reason = current_caller().actor, reason
            session.flush()
            skipped = list(
                session.execute(
                    update(Execution)
                    .where(
                        Execution.status == Status.QUEUED,
                        Execution.trigger == Trigger.SCHEDULE,
                    )
                    .values(status=Status.SKIPPED, finished_at=now, error=PAUSED_PREFIX + reason)
                    .returning(Execution.id, Execution.job_id)
                    .execution_options(synchronize_session=False)
                ).all()
            )
            finals = [Final(e, job_id, Status.SKIPPED) for e, job_id in skipped]
            settle(session.connection(), finals, rt.settings)
            audit.record(
                session,
                "scheduler.pause",
                "scheduler",
                {"paused": [False, True], "reason": [None, reason]},
            )
        shown = _shown(row)
    for execution_id, _ in skipped:  # out of this process's ready queue too
        rt.scheduler.cancel(execution_id)
    return shown


def resume(rt: Runtime, catch_up: bool) -> tuple[dict[str, Any], list[int]]:
    """Resume; with ``catch_up``, one run now of each enabled job that had fires skipped
    while paused. The new runs' ids come back with the state."""
    started: list[int] = []
    with rt.db.write() as session:
        row = _row(session)
        if row.paused:
            since, now = row.paused_at, utcnow()
            row.paused, row.paused_at, row.paused_by, row.pause_reason = False, None, None, None
            if catch_up:
                job_ids = session.scalars(
                    select(Execution.job_id)
                    .join(Job, and_(Job.id == Execution.job_id))
                    .where(
                        Execution.status == Status.SKIPPED,
                        Execution.trigger == Trigger.SCHEDULE,
                        Execution.error.like(PAUSED_PREFIX + "%"),
                        Execution.finished_at >= since,
                        Job.is_enabled,
                        Job.deleted_at.is_(None),
                        Job.type != HEARTBEAT,  # a monitor's job runs elsewhere
                    )
                    .distinct()
                    .order_by(Execution.job_id)
                ).all()
                for job_id in job_ids:
                    started.append(
                        session.execute(
                            insert(Execution)
                            .values(
                                job_id=job_id,
                                status=Status.QUEUED,
                                trigger=Trigger.CATCH_UP,
                                attempt=1,
                                scheduled_at=now,
                                created_at=now,
                                output_truncated=False,
                                cancel_requested=False,
                            )
                            .returning(Execution.id)
                        ).scalar_one()
                    )
            changes: dict[str, list] = {"paused": [True, False]}
            if catch_up:
                changes["catch_up_runs"] = [None, len(started)]
            audit.record(session, "scheduler.resume", "scheduler", changes)
        shown = _shown(row)
    for execution_id in started:
        rt.scheduler.wake(execution_id)
    return shown, started
