"""What a row's final status brings with it, written in the same transaction.

Every place that gives an execution its final status (the recorder, the intake's
``skipped`` and ``missed`` rows, the recovery of interrupted runs, a cancel, a delete)
hands the rows to :func:`settle`, which writes:

* the job's count for that status (``execution_counts``: ``cronwell_executions_total``
  counts over the job's life, whatever history pruning removes);
* the notifications it calls for, in the outbox (:class:`~app.models.Notification`),
  which the leader's sender delivers (:mod:`app.notify.sender`). A crash cannot lose one:
  it is written with the outcome, or neither is.

* the runs its job's chains call for: after the last attempt, each job in
  ``on_success`` (for ``success``) or ``on_failure`` (``failed``, ``timeout``) gets a
  ``queued`` row with trigger ``chain`` and ``triggered_by``, or a ``skipped`` one when it
  is disabled. A deleted job gets nothing. Written with the outcome, a hand-off survives
  any crash: a queued row left by a crash is recorded ``interrupted`` at the restart.

Events: ``failure`` for a final ``failed``, ``timeout`` or ``interrupted`` (after the
last retry: an attempt followed by a retry is not final), ``recovery`` for a ``success``
after a failure (``jobs.failing``), ``missed`` for a ``missed`` row, ``success``. A job's
``notify`` says which go where; when it is null the service's NOTIFY_URLS and NOTIFY_ON
do.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from app.config import Settings
from app.db import add_counts, utcnow
from app.models import Backfill, Execution, ExecutionCount, Job, Notification
from app.statuses import FAILED_STATUSES, RAN_STATUSES, Status, Trigger

logger = logging.getLogger("cronwell.chains")
#: The final statuses that can call for a notification.
_EVENTFUL = (Status.SUCCESS, Status.MISSED, *FAILED_STATUSES)
#: The outcomes that hand off to a chain, and the list of jobs each reads.
CHAIN_LISTS = {
    Status.SUCCESS: "on_success",
    Status.FAILED: "on_failure",
    Status.TIMEOUT: "on_failure",
}
counts = ExecutionCount.__table__
jobs = Job.__table__
executions = Execution.__table__
backfills = Backfill.__table__
#: The event of a run past its job's expected_duration_seconds, and its count's key in
#: execution_counts (beside the final statuses; /metrics keeps it apart).
SLOW = "slow"
_SET_FAILING = (
    update(jobs).where(jobs.c.id == bindparam("b_job")).values(failing=bindparam("b_failing"))
)


#: What the jobs whose runs ended say about notifying and chaining (built once).
_SOURCES = select(
    jobs.c.id, jobs.c.notify, jobs.c.failing, jobs.c.on_success, jobs.c.on_failure
).where(jobs.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class Final:
    """An execution that reached a final status; ``retrying``: another attempt follows
    (the run's outcome is not final yet)."""

    execution_id: int
    job_id: str
    status: str
    retrying: bool = False


@dataclass(frozen=True)
class Settled:
    """What settling wrote besides the counts: how many notifications, and the ids of
    the chained runs it queued (for the runner to start)."""

    notifications: int = 0
    queued: tuple[int, ...] = ()


#: A job's counters and last_* fields after one or more outcomes (b_runs, b_ok, b_failed:
#: how many to add).
JOB_OUTCOME = (
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
        last_success_at=func.coalesce(bindparam("b_last_success_at"), jobs.c.last_success_at),
        last_failure_at=func.coalesce(bindparam("b_last_failure_at"), jobs.c.last_failure_at),
    )
)


def counter_deltas(status: str) -> tuple[int, int, int]:
    """(runs, successes, failures) an outcome adds to its job's counters."""
    if status not in RAN_STATUSES:
        return 0, 0, 0
    return 1, int(status == Status.SUCCESS), int(status in FAILED_STATUSES)


def apply_outcome(
    connection,
    job_id: str,
    status: str,
    started_at: dt.datetime | None,
    finished_at: dt.datetime,
    duration_ms: int | None,
    error: str | None,
) -> None:
    """One job's counters and last_* fields for one finished attempt (one not written
    by the recorder's batches: a lost run's, a heartbeat monitor's)."""
    runs, successes, failures = counter_deltas(status)
    if not runs:
        return
    connection.execute(
        JOB_OUTCOME,
        {
            "b_job": job_id,
            "b_runs": runs,
            "b_ok": successes,
            "b_failed": failures,
            "b_last_run_at": started_at,
            "b_last_status": status,
            "b_last_duration_ms": duration_ms,
            "b_last_error": error,
            "b_last_success_at": finished_at if successes else None,
            "b_last_failure_at": finished_at if failures else None,
        },
    )


def settle(connection: Connection, finals: Sequence[Final], settings: Settings) -> Settled:
    """Count ``finals``, queue the chained runs and write the notifications they call for."""
    if not finals:
        return Settled()
    # The finals that may notify or chain, and their jobs' rows (one read for both).
    concerned = [f for f in finals if not f.retrying and f.status in _EVENTFUL]
    sources = {}
    if concerned:
        job_ids = sorted({final.job_id for final in concerned})
        sources = {row.id: row for row in connection.execute(_SOURCES, {"ids": job_ids})}
    queued, skipped = _hand_off(connection, concerned, sources)
    queued += _next_of_backfills(connection, finals)
    tally = collections.Counter((final.job_id, final.status) for final in [*finals, *skipped])
    add_counts(
        connection,
        counts,
        ["job_id", "status"],
        [{"job_id": j, "status": s, "count": n} for (j, s), n in tally.items()],
    )
    return Settled(_notify(connection, concerned, sources, settings), queued)


def _hand_off(
    connection: Connection, concerned: Sequence[Final], sources: Mapping[str, Any]
) -> tuple[tuple[int, ...], list[Final]]:
    """Write the chained runs the final outcomes call for: (queued ids, skipped rows as
    finals). ``sources``: the rows of the jobs whose runs ended."""
    handing = [f for f in concerned if f.status in CHAIN_LISTS]
    wanted = [
        (final, target)
        for final in handing
        if final.job_id in sources
        for target in getattr(sources[final.job_id], CHAIN_LISTS[final.status]) or ()
    ]
    if not wanted:
        return (), []
    targets = {
        row.id: row
        for row in connection.execute(
            select(jobs.c.id, jobs.c.is_enabled, jobs.c.deleted_at).where(
                jobs.c.id.in_({target for _, target in wanted})
            )
        )
    }
    now = utcnow()
    rows = []
    for final, target in wanted:
        job = targets.get(target)
        if job is None or job.deleted_at is not None:
            logger.info(
                "Execution %d of job %r: its chain to job %r is not run (the job is deleted)",
                final.execution_id, final.job_id, target,
            )  # fmt: skip
            continue
        enabled = job.is_enabled
        rows.append(
            {
                "job_id": target,
                "status": Status.QUEUED if enabled else Status.SKIPPED,
                "trigger": Trigger.CHAIN,
                "triggered_by": final.execution_id,
                "attempt": 1,
                "scheduled_at": now,
                "finished_at": None if enabled else now,
                "error": None
                if enabled
                else f"Not run: job {target!r} is disabled (chained from execution "
                f"{final.execution_id} of job {final.job_id!r}).",
                "created_at": now,
                "output_truncated": False,
                "cancel_requested": False,
            }
        )
    if not rows:
        return (), []
    written = connection.execute(
        insert(executions).returning(executions.c.id, executions.c.job_id, executions.c.status),
        rows,
    ).all()
    queued = tuple(row.id for row in written if row.status == Status.QUEUED)
    skipped = [
        Final(row.id, row.job_id, Status.SKIPPED) for row in written if row.status == Status.SKIPPED
    ]
    return queued, skipped


def _notify(
    connection: Connection,
    concerned: Sequence[Final],
    state: Mapping[str, Any],
    settings: Settings,
) -> int:
    """Write the notifications the final outcomes call for; ``state``: their jobs' rows."""
    if not concerned:
        return 0
    failing = {job_id: row.failing for job_id, row in state.items()}
    was_failing = dict(failing)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for final in concerned:
        row = state.get(final.job_id)
        if row is None:
            continue
        events = []
        if final.status == Status.MISSED:
            events.append("missed")
        elif final.status in FAILED_STATUSES:
            events.append("failure")
            failing[final.job_id] = True
        elif final.status == Status.SUCCESS:
            if failing[final.job_id]:
                events.append("recovery")
            events.append("success")
            failing[final.job_id] = False
        for event in events:
            for url in urls_for(row.notify, event, settings):
                rows.append(
                    {
                        "execution_id": final.execution_id,
                        "event": event,
                        "url": url,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
    changed = [
        {"b_job": job_id, "b_failing": value}
        for job_id, value in failing.items()
        if value != was_failing[job_id]
    ]
    if changed:
        connection.execute(_SET_FAILING, changed)
    if rows:
        connection.execute(insert(Notification), rows)
    return len(rows)


def queue_next_backfill_run(connection: Connection, backfill_id: int) -> int | None:
    """Queue the next run of a backfill, unless it is done, cancelled, its job deleted,
    or a run of it is still queued or running (one at a time); the new run's id."""
    backfill = connection.execute(
        select(backfills).where(backfills.c.id == backfill_id).with_for_update()
    ).first()
    if backfill is None or backfill.cancelled_at is not None:
        return None
    if backfill.queued >= len(backfill.fires):
        return None
    busy = connection.execute(
        select(executions.c.id)
        .where(
            executions.c.backfill_id == backfill_id,
            executions.c.status.in_((Status.QUEUED, Status.RUNNING)),
        )
        .limit(1)
    ).first()
    live = connection.execute(
        select(jobs.c.id).where(jobs.c.id == backfill.job_id, jobs.c.deleted_at.is_(None))
    ).first()
    if busy is not None or live is None:
        return None
    now = utcnow()
    execution_id = connection.execute(
        insert(executions)
        .values(
            job_id=backfill.job_id,
            status=Status.QUEUED,
            trigger=Trigger.BACKFILL,
            attempt=1,
            scheduled_at=dt.datetime.fromisoformat(backfill.fires[backfill.queued]),
            backfill_id=backfill_id,
            created_at=now,
            output_truncated=False,
            cancel_requested=False,
            slow=False,
        )
        .returning(executions.c.id)
    ).scalar_one()
    connection.execute(
        update(backfills).where(backfills.c.id == backfill_id).values(queued=backfill.queued + 1)
    )
    return execution_id


_ORIGIN = executions.alias("origin")
#: The backfills of the ended runs ``ended`` (theirs, or their first attempt's): built once,
#: as building it (the alias's columns) costs more than running it.
_BACKFILLS_OF = (
    select(func.coalesce(executions.c.backfill_id, _ORIGIN.c.backfill_id))
    .select_from(executions.outerjoin(_ORIGIN, _ORIGIN.c.id == executions.c.retry_of))
    .where(
        executions.c.id.in_(bindparam("ended", expanding=True)),
        (executions.c.backfill_id.is_not(None)) | (_ORIGIN.c.backfill_id.is_not(None)),
    )
)


def _next_of_backfills(connection: Connection, finals: Sequence[Final]) -> tuple[int, ...]:
    """The next run of each backfill whose run (or its last retry) has ended."""
    ended = [final.execution_id for final in finals if not final.retrying]
    if not ended:
        return ()
    found = connection.execute(_BACKFILLS_OF, {"ended": ended}).scalars()
    queued = (queue_next_backfill_run(connection, b) for b in sorted(set(found)))
    return tuple(execution_id for execution_id in queued if execution_id is not None)


def mark_slow(connection: Connection, slow: Sequence[tuple[int, str]], settings: Settings) -> int:
    """Mark running executions ``(execution_id, job_id)`` slow (each once), count them
    per job, and write their ``slow`` notifications: to the job's notify URLs (or the
    service's), whatever its ``on`` (setting expected_duration_seconds asks for them).
    How many notifications were written."""
    if not slow:
        return 0
    marked = connection.execute(
        update(executions)
        .where(
            executions.c.id.in_([execution_id for execution_id, _ in slow]),
            executions.c.status == Status.RUNNING,
            ~executions.c.slow,
        )
        .values(slow=True)
        .returning(executions.c.id, executions.c.job_id)
    ).all()
    if not marked:
        return 0
    tally = collections.Counter(job_id for _, job_id in marked)
    add_counts(
        connection,
        counts,
        ["job_id", "status"],
        [{"job_id": j, "status": SLOW, "count": n} for j, n in tally.items()],
    )
    notify = dict(
        connection.execute(select(jobs.c.id, jobs.c.notify).where(jobs.c.id.in_(tally))).all()
    )
    now = utcnow()
    rows = [
        {"execution_id": execution_id, "event": SLOW, "url": url, "status": "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for execution_id, job_id in marked
        for url in _urls(notify.get(job_id), settings)
    ]  # fmt: skip
    if rows:
        connection.execute(insert(Notification.__table__), rows)
    return len(rows)


def _urls(notify: Mapping[str, Any] | None, settings: Settings) -> list[str]:
    """A job's notify URLs (None: the service's)."""
    return list(settings.notify_urls if notify is None else notify.get("urls") or ())


def urls_for(notify: Mapping[str, Any] | None, event: str, settings: Settings) -> list[str]:
    """Where ``event`` goes for a job whose ``notify`` is this (None: the defaults)."""
    if notify is None:
        on = settings.notify_on
        urls = settings.notify_urls
    else:
        on, urls = notify.get("on") or (), notify.get("urls") or ()
    return list(urls) if event in on else []
