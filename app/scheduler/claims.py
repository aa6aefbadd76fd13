"""Claims and leases: the database decides which worker runs what.

* :func:`claim_due`: the database chooses the due rows a worker may run (oldest first,
  passing over rows another worker is claiming), and :func:`claim` takes those that fit
  its free slots to ``running`` in one UPDATE that names it and its lease (``WHERE
  status = 'queued'``). Only the rows the statement returns start; a row another worker
  took first, or one cancelled or withdrawn meanwhile, starts nothing here. In the same
  transaction a scheduled fire of an ``overlap_policy: skip`` job whose previous run is
  running (anywhere) becomes ``skipped``, one later than its grace time ``missed``, and a
  concurrency group's limit is kept.
* :func:`renew`: a worker extends the leases of its running rows and says it is alive
  (``workers``). The rows it no longer holds (another worker recorded them
  ``interrupted``) come back, so it stops them.
* The leader's side, what an ended lease leaves, is :mod:`app.scheduler.reaping`.

Times are the workers' clocks (UTC); hosts that share a database must keep them in step
(NTP), as every lease-based scheduler requires.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
    update,
)

from app.config import Settings
from app.core.finals import Final, Settled, settle
from app.db import UTCDateTime, likely, upsert_insert, utcnow
from app.models import WAITS_FOR_A_WORKER, Execution, Job, Worker
from app.scheduler.stages import RunSpec
from app.statuses import Status, Trigger

executions = Execution.__table__
workers = Worker.__table__
_GROUP_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
#: Triggers whose run is dropped (``skipped``) when its job is still running; a retry or
#: a run-now waits for the running one instead.
SKIPPABLE_TRIGGERS = (Trigger.SCHEDULE, Trigger.CHAIN)


def new_worker_id() -> str:
    """A name for this process as a worker, unique for its life: host, pid and a nonce."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Claimed:
    """What a claim decided for the rows it was given."""

    started: dict[int, dt.datetime] = field(default_factory=dict)  # id -> started_at
    deferred: set[int] = field(default_factory=set)  # wait for their job's running run
    settled: Settled = field(default_factory=Settled)
    specs: list[RunSpec] = field(default_factory=list)  # the started ones', in start order
    more: bool = False  # due rows are left that this worker could run (no slot for them)


#: The job's columns a RunSpec carries, read by the claim with the run's row: what
#: starting it needs, as the job is at its claim.
RUN_SPEC_JOB_COLUMNS = (
    Job.type,
    Job.configuration,
    Job.max_duration_seconds,
    Job.retry_count,
    Job.retry_delay_seconds,
    Job.overlap_policy,
    Job.updated_at,
    Job.misfire_grace_seconds,
    Job.run_on,
    Job.concurrency_group,
    Job.expected_duration_seconds,
)
#: The columns a RunSpec is read from (executions joined with jobs).
RUN_SPEC_COLUMNS = (
    Execution.id.label("execution_id"),
    Execution.scheduled_at,
    Execution.attempt,
    Execution.retry_of,
    Execution.trigger,
    Execution.job_id,
    *RUN_SPEC_JOB_COLUMNS,
    Execution.start_after,
    Execution.configuration_overrides,
)
#: A run's start: its jittered time, else its scheduled time.
_STARTS_AT = func.coalesce(Execution.start_after, Execution.scheduled_at)
#: Candidates read per free slot: room for rows another worker's labels must run, or that
#: wait for their job or their group.
CANDIDATES_PER_SLOT = 4

# The claim's two statements are built once, every value a parameter: building a
# statement and its cache key cost more than running it (half of a claim's time).
_HORIZON = bindparam("horizon", type_=UTCDateTime())
#: The due rows a worker may claim, oldest first (PostgreSQL: passing over rows another
#: worker is claiming).
_CANDIDATES = (
    select(*RUN_SPEC_COLUMNS)
    .join(Job, Job.id == Execution.job_id)
    .where(*WAITS_FOR_A_WORKER, Execution.scheduled_at <= _HORIZON, _HORIZON >= _STARTS_AT)
    .order_by(Execution.scheduled_at, Execution.id)
    .limit(bindparam("limit", type_=Integer()))
    .with_for_update(of=Execution, skip_locked=True)
)


@functools.cache
def _claim_update(dialect: str) -> Any:
    """The claim: the rows ``ids`` still queued go to ``running``, named for ``worker``
    with its lease. PostgreSQL passes over rows another worker is claiming right now
    (FOR UPDATE SKIP LOCKED); SQLite's writes are one at a time anyway."""
    still_queued = likely(executions.c.status == Status.QUEUED, dialect)
    claimable = (
        select(executions.c.id)
        .where(executions.c.id.in_(bindparam("ids", expanding=True)), still_queued)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    at_now = bindparam("now", type_=UTCDateTime())
    return (
        update(executions)
        .where(executions.c.id.in_(claimable), still_queued)
        .values(
            status=Status.RUNNING,
            started_at=case((at_now < _STARTS_AT, _STARTS_AT), else_=at_now),
            worker=bindparam("worker"),
            lease_until=bindparam("lease_until", type_=UTCDateTime()),
        )
        .returning(executions.c.id, executions.c.started_at)
    )


def claim_due(
    connection: Connection,
    worker: str,
    lease_seconds: float,
    capacity: int,
    horizon: dt.datetime,
    labels: Mapping[str, str],
    settings: Settings,
) -> Claimed:
    """Claim up to ``capacity`` of the runs due by ``horizon`` that ``worker`` may run,
    oldest first, in the caller's transaction. The database chooses them: on PostgreSQL
    ``FOR UPDATE SKIP LOCKED`` passes over rows another worker is claiming; SQLite's
    writes are one at a time, so the next claim sees this one's rows as running."""
    limit = capacity * CANDIDATES_PER_SLOT + 10
    rows = connection.execute(_CANDIDATES, {"horizon": horizon, "limit": limit}).all()
    specs = [RunSpec(**row._mapping) for row in rows]
    mine = [spec for spec in specs if spec.runs_on(labels)]
    result = claim(connection, worker, lease_seconds, mine, settings, capacity=capacity)
    result.more = len(rows) == limit or len(mine) - len(result.deferred) > len(result.started)
    return result


def claim(
    connection: Connection,
    worker: str,
    lease_seconds: float,
    specs: Sequence[RunSpec],
    settings: Settings,
    capacity: int | None = None,
) -> Claimed:
    """Claim ``specs`` (due, in start order) for ``worker``, up to ``capacity`` of them,
    in the caller's transaction. A run that starts after ``now`` (claimed a moment ahead)
    gets its start time as ``started_at``."""
    now = utcnow()
    result = Claimed()
    skip_jobs = sorted({s.job_id for s in specs if s.overlap_policy == "skip"})
    busy: dict[str, int] = {}
    if skip_jobs:
        # The job rows are locked (PostgreSQL), in id order: two workers claiming runs of
        # one job see each other's claim, so a skip job never runs twice at once.
        connection.execute(
            select(Job.id).where(Job.id.in_(skip_jobs)).order_by(Job.id).with_for_update()
        ).all()
        busy = dict(
            connection.execute(
                select(executions.c.job_id, executions.c.id).where(
                    executions.c.job_id.in_(skip_jobs), executions.c.status == Status.RUNNING
                )
            ).all()
        )
    room = _group_room(connection, specs, settings)
    to_claim: list[int] = []
    skipped: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    for spec in specs:
        if capacity is not None and len(to_claim) >= capacity:
            break
        late = (now - spec.starts_at).total_seconds()
        if spec.trigger == Trigger.SCHEDULE and late > spec.misfire_grace_seconds:
            missed.append(
                {
                    "b_id": spec.execution_id,
                    "b_error": f"Not started within misfire_grace_seconds "
                    f"({spec.misfire_grace_seconds}) of its time: no worker was free to "
                    f"run it until {late:.0f} s later.",
                }
            )
            continue
        if spec.overlap_policy == "skip" and spec.job_id in busy:
            if spec.trigger in SKIPPABLE_TRIGGERS:
                skipped.append(
                    {
                        "b_id": spec.execution_id,
                        "b_error": "Skipped: the previous run "
                        f"(execution {busy[spec.job_id]}) was still in progress "
                        "and overlap_policy is skip.",
                    }
                )
            else:
                result.deferred.add(spec.execution_id)
            continue
        group = spec.concurrency_group
        if group in room:
            if room[group] <= 0:
                result.deferred.add(spec.execution_id)  # waits, in fire order, for room
                continue
            room[group] -= 1
        to_claim.append(spec.execution_id)
        if spec.overlap_policy == "skip":
            busy[spec.job_id] = spec.execution_id
    if to_claim:
        rows = connection.execute(
            _claim_update(connection.dialect.name),
            {
                "ids": to_claim,
                "now": now,
                "worker": worker,
                "lease_until": now + dt.timedelta(seconds=lease_seconds),
            },
        ).all()
        result.started = dict(rows)
        result.specs = [spec for spec in specs if spec.execution_id in result.started]
    finals: list[Final] = []
    for status, rows in ((Status.SKIPPED, skipped), (Status.MISSED, missed)):
        for row in rows:  # one statement a row: few, and RETURNING takes no executemany
            ended = connection.execute(
                update(executions)
                .where(executions.c.id == row["b_id"], executions.c.status == Status.QUEUED)
                .values(status=status, finished_at=now, error=row["b_error"])
                .returning(executions.c.id, executions.c.job_id)
            ).first()
            if ended is not None:
                finals.append(Final(ended.id, ended.job_id, status))
    if finals:
        result.settled = settle(connection, finals, settings)
    return result


def _group_room(
    connection: Connection, specs: Sequence[RunSpec], settings: Settings
) -> dict[str, int]:
    """How many more runs each concurrency group of ``specs`` may start now, across every
    worker. On PostgreSQL each group is locked for the claim's transaction (an advisory
    lock), so two workers claiming at once cannot both take its last place; SQLite's
    writes are one at a time anyway."""
    limits = settings.concurrency_groups
    groups = sorted({s.concurrency_group for s in specs if s.concurrency_group in limits})
    if not groups:
        return {}
    if connection.dialect.name == "postgresql":
        for group in groups:
            connection.execute(_GROUP_LOCK, {"k": zlib.crc32(f"cronwell-group:{group}".encode())})
    running = dict(
        connection.execute(
            select(Job.concurrency_group, func.count())
            .select_from(executions.join(Job.__table__, Job.id == executions.c.job_id))
            .where(executions.c.status == Status.RUNNING, Job.concurrency_group.in_(groups))
            .group_by(Job.concurrency_group)
        ).all()
    )
    return {group: int(limits[group]) - running.get(group, 0) for group in groups}


def renew(
    connection: Connection,
    worker: str,
    lease_seconds: float,
    running: Sequence[int],
    capacity: int,
    labels: Mapping[str, str],
    started_at: dt.datetime,
) -> set[int]:
    """Extend ``worker``'s leases and beat its heartbeat; return the ids among
    ``running`` that are still its own (the others were recorded ``interrupted``)."""
    now = utcnow()
    held: set[int] = set()
    if running:
        held = set(
            connection.scalars(
                update(executions)
                .where(
                    executions.c.id.in_(running),
                    executions.c.worker == worker,
                    executions.c.status == Status.RUNNING,
                )
                .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
                .returning(executions.c.id)
            ).all()
        )
    host, pid = socket.gethostname(), os.getpid()
    upsert = upsert_insert(connection.dialect.name, workers)
    connection.execute(
        upsert.values(
            id=worker, host=host, pid=pid, labels=dict(labels),
            capacity=capacity, running=len(held), started_at=started_at, heartbeat_at=now,
        ).on_conflict_do_update(
            index_elements=["id"], set_={"running": len(held), "heartbeat_at": now}
        )
    )  # fmt: skip
    return held


def leave(connection: Connection, worker: str) -> None:
    """A worker stopping cleanly takes its row out of the workers table."""
    connection.execute(delete(workers).where(workers.c.id == worker))


def cancel_requested(connection: Connection, ids: Sequence[int]) -> list[int]:
    """Those of ``ids`` that another process asked to cancel."""
    flagged = select(executions.c.id).where(executions.c.id.in_(ids), executions.c.cancel_requested)
    return list(connection.scalars(flagged).all())
