"""The database as the run queue: fires written as rows (the claim,
:mod:`app.scheduler.claims`, reads them back as RunSpecs).

* :func:`record_fires` writes a pass's fires in the pass's transaction (the one that moves
  the store past them, see :mod:`app.scheduler.passes`), so a fire is recorded exactly
  when the store moves past it: after a crash it is neither lost nor run twice (a partial
  unique index on ``(job_id, scheduled_at)`` for scheduled rows backs this up). A fire to
  run becomes a ``queued`` row, or ``skipped`` when it is already due, the job's overlap
  policy is ``skip`` and a run of it is still queued or running (a fire written ahead of
  its time is queued: the runner decides at its time); fires later than the grace time
  become one ``missed`` row per job and pass, with the count in ``result.missed_fires``.
  A heartbeat monitor's fire is a row that waits for a ping (:func:`waiting_row`).
* :func:`withdraw_planned` deletes a changing job's fires written ahead of their time.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import Connection, delete, insert, or_, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.core.calendars import Calendar, excluded_by, ids_in
from app.core.finals import Final, settle
from app.db import upsert_insert, utcnow
from app.jobtypes.heartbeat import HEARTBEAT
from app.models import (
    PAUSED_PREFIX,
    PING_HOLDER,
    PLANNED_FIRE,
    CalendarRow,
    Execution,
    Job,
    SchedulerState,
)
from app.scheduler.stages import Fire, Queued
from app.statuses import Status, Trigger

#: Fires closer than this to their time are not withdrawn by a change: a worker may be
#: claiming them (it claims up to 0.1 s ahead), and they run as planned.
WITHDRAW_MARGIN_SECONDS = 0.25


def _insert_new_fires(dialect: str):
    """INSERT that skips a fire already recorded (the partial unique index on fires)."""
    if dialect in ("sqlite", "postgresql"):
        return upsert_insert(dialect, Execution).on_conflict_do_nothing()
    return insert(Execution)


#: The job columns writing a fire needs (its overlap, grace, jitter and calendars). What
#: starting it needs, the claim reads at its time: here, decoding a pass's thousand
#: configurations for nothing held the write lock longer than the INSERT did.
FIRE_JOB_COLUMNS = (
    Job.id,
    Job.type,
    Job.overlap_policy,
    Job.misfire_grace_seconds,
    Job.jitter_seconds,
    Job.calendars,
)


def jittered(fire_time: dt.datetime, jitter_seconds: int) -> dt.datetime | None:
    """When a fire with this jitter starts: a random moment up to ``jitter_seconds``
    after its time (None: no jitter, it starts at its time). Its row keeps the time
    before jitter as ``scheduled_at``, which lateness and next_run_at count from.

    APScheduler's triggers take a ``jitter`` too, but they move the fire time itself,
    and the store's next run time with it: the time before jitter would be lost."""
    if not jitter_seconds:
        return None
    return fire_time + dt.timedelta(seconds=random.uniform(0, jitter_seconds))


def _pause_reason(connection: Connection) -> str | None:
    """The error a fire is skipped with while the service is paused (None: not paused).
    The row is locked for share (PostgreSQL): a pause committing meanwhile waits for this
    pass, and then skips the rows it queued."""
    row = connection.execute(
        select(SchedulerState.paused, SchedulerState.pause_reason)
        .where(SchedulerState.id == 1)
        .with_for_update(read=True)
    ).first()
    if row is None or not row.paused:
        return None
    return PAUSED_PREFIX + (row.pause_reason or "")


def _calendars(connection: Connection, ids: set[str]) -> dict[str, Calendar]:
    """The calendars the pass's jobs name, by id (no read when none does)."""
    if not ids:
        return {}
    rows = connection.execute(select(CalendarRow).where(CalendarRow.id.in_(ids))).mappings()
    return {row["id"]: Calendar.of(row) for row in rows}


def _skipped_row(job_id: str, scheduled_for: dt.datetime, now: dt.datetime, error: str) -> dict:
    return {
        "job_id": job_id,
        "status": Status.SKIPPED,
        "trigger": Trigger.SCHEDULE,
        "attempt": 1,
        "scheduled_at": scheduled_for,
        "finished_at": now,
        "error": error,
        "created_at": now,
    }


def waiting_row(job_id: str, fire: dt.datetime, grace: int, now: dt.datetime) -> dict:
    """A heartbeat monitor's fire: ``queued`` for a ping until ``grace`` seconds past its
    time, held by the pings (no worker claims it; app/core/pings.py)."""
    return {
        "job_id": job_id,
        "status": Status.QUEUED,
        "trigger": Trigger.SCHEDULE,
        "attempt": 1,
        "scheduled_at": fire,
        "worker": PING_HOLDER,
        "lease_until": fire + dt.timedelta(seconds=grace),
        "created_at": now,
    }


def record_fires(connection: Connection, batch: list[Fire], settings: Settings) -> list[Queued]:
    """Write a pass's fires as execution rows, in the pass's transaction.

    ``skipped`` and ``missed`` rows are final: they are settled at once
    (:func:`~app.core.finals.settle`).

    Returns the queued rows a worker is to claim, with their start times. Fires of a job
    whose change the store has not taken yet (``sync_pending``) are dropped: the store
    row they came from is stale, and the sync plans the job again from the time it
    changed. The job rows are locked (PostgreSQL), so a change committing meanwhile is
    seen whole: it either comes first (its fires are dropped here) or after (it
    withdraws them).
    """
    if not batch:
        return []
    now = utcnow()
    job_ids = {f.job_id for f in batch}
    jobs = {
        row.id: row
        for row in connection.execute(
            select(*FIRE_JOB_COLUMNS)
            .where(Job.id.in_(job_ids), Job.deleted_at.is_(None), ~Job.sync_pending)
            .order_by(Job.id)
            .with_for_update()
        )
    }
    busy = _busy_runs(connection, [j for j, r in jobs.items() if r.overlap_policy == "skip"], now)
    paused = _pause_reason(connection)
    calendars = _calendars(connection, ids_in(job.calendars for job in jobs.values()))
    # (calendar ids, fire time) -> the calendar that excludes it: a pass's jobs often
    # share both (jobs due on the hour under one holiday calendar), decided once.
    excluded: dict[tuple[tuple[str, ...], dt.datetime], str | None] = {}
    rows = []
    for fire in batch:
        job = jobs.get(fire.job_id)
        if job is None:
            continue  # deleted while the fire was in flight
        if fire.missed:
            rows.append(_missed_row(fire, job.misfire_grace_seconds, now))
        if fire.scheduled_for is None:
            continue
        if paused is not None:
            rows.append(_skipped_row(fire.job_id, fire.scheduled_for, now, paused))
            continue
        if job.calendars:
            key = (tuple(job.calendars), fire.scheduled_for)
            if key not in excluded:
                mine = [calendars[i] for i in job.calendars if i in calendars]
                excluded[key] = excluded_by(mine, fire.scheduled_for)
            by = excluded[key]
            if by is not None:
                rows.append(_skipped_row(fire.job_id, fire.scheduled_for, now, f"calendar {by}"))
                continue
        if job.type == HEARTBEAT:
            grace = job.misfire_grace_seconds
            rows.append(waiting_row(fire.job_id, fire.scheduled_for, grace, now))
            continue
        due = fire.scheduled_for <= now
        if job.overlap_policy == "skip" and due and fire.job_id in busy:
            reason = (
                f"Skipped: the previous run (execution {busy[fire.job_id]}) was still in "
                "progress and overlap_policy is skip."
            )
            rows.append(_skipped_row(fire.job_id, fire.scheduled_for, now, reason))
            continue
        rows.append(
            {
                "job_id": fire.job_id,
                "status": Status.QUEUED,
                "trigger": Trigger.SCHEDULE,
                "attempt": 1,
                "scheduled_at": fire.scheduled_for,
                "start_after": jittered(fire.scheduled_for, job.jitter_seconds),
                "created_at": now,
            }
        )
        if job.overlap_policy == "skip" and due:
            busy[fire.job_id] = "queued in this batch"
    if not rows:
        return []
    # One shape for every row: executemany compiles the INSERT from the first.
    keys = set().union(*rows)
    rows = [{key: row.get(key) for key in keys} for row in rows]
    written = connection.execute(
        _insert_new_fires(connection.dialect.name).returning(
            Execution.id,
            Execution.job_id,
            Execution.scheduled_at,
            Execution.status,
            Execution.start_after,
        ),
        rows,
    ).all()
    settle(
        connection,
        [Final(row.id, row.job_id, row.status) for row in written if row.status != Status.QUEUED],
        settings,
    )
    return [
        Queued(row.id, row.job_id, row.scheduled_at, row.start_after)
        for row in written
        if row.status == Status.QUEUED and jobs[row.job_id].type != HEARTBEAT
    ]


def withdraw_planned(session: Session | Connection, job_id: str) -> int:
    """Delete the job's fires written ahead of their time (its schedule or definition
    is changing: the store hands them out again as the job now says).

    Called in the changing transaction. Fires due within WITHDRAW_MARGIN_SECONDS are
    kept and run as planned (a claim reads the job as it is then).
    """
    margin = dt.timedelta(seconds=WITHDRAW_MARGIN_SECONDS)
    return session.execute(
        delete(Execution).where(
            Execution.job_id == job_id, *PLANNED_FIRE, Execution.scheduled_at > utcnow() + margin
        )
    ).rowcount


def _busy_runs(connection: Connection, job_ids: list[str], now: dt.datetime) -> dict[str, object]:
    if not job_ids:
        return {}
    stmt = select(Execution.job_id, Execution.id).where(
        Execution.job_id.in_(job_ids),
        or_(
            Execution.status == Status.RUNNING,
            (Execution.status == Status.QUEUED) & (Execution.scheduled_at <= now),
        ),
    )
    return {job_id: exec_id for job_id, exec_id in connection.execute(stmt)}


def _missed_row(fire: Fire, grace: int, now: dt.datetime) -> dict:
    count = len(fire.missed)
    first, last = fire.missed[0], fire.missed[-1]
    ran = " (a later fire within the grace time runs instead)" if fire.scheduled_for else ""
    return {
        "job_id": fire.job_id,
        "status": Status.MISSED,
        "trigger": Trigger.SCHEDULE,
        "attempt": 1,
        "scheduled_at": first,
        "finished_at": now,
        "result": {
            "missed_fires": count,
            "first_scheduled_at": first.astimezone(dt.UTC).isoformat(),
            "last_scheduled_at": last.astimezone(dt.UTC).isoformat(),
        },
        "error": f"{count} fire(s) missed: more than misfire_grace_seconds ({grace}) late{ran}.",
        "created_at": now,
    }
