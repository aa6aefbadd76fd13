"""Tables: jobs, executions, the leader record and the APScheduler job store's table;
the tables of who may do what are in :mod:`app.models.access`.

No Flask or scheduler imports here: the models are plain SQLAlchemy 2 typed mappings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.models.access import ApiKey as ApiKey
from app.models.access import AuditEntry as AuditEntry
from app.models.access import JobRevision as JobRevision
from app.models.access import UiSession as UiSession
from app.models.access import User as User
from app.models.base import Base
from app.statuses import Status, Trigger

#: What a run can tell people about (see app/scheduler/finals.py), and the default choice
#: (app/config.py's NOTIFY_ON says the same).
NOTIFY_EVENTS = ("failure", "recovery", "missed", "success")
DEFAULT_NOTIFY_ON = ("failure", "recovery", "missed")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class Job(Base):
    """A job definition; the source of truth the scheduler is reconciled from."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Serves the job list: live jobs (deleted_at IS NULL) in creation order, paged
        # (and any lookup by deleted_at). type and is_enabled have a few values each: an
        # index of theirs would not narrow a read, and every create would write it.
        Index("ix_jobs_live_order", "deleted_at", "created_at", "id"),
        # A ping finds its monitor by its key, whatever the number of jobs.
        Index("ux_jobs_ping_key", "ping_key", unique=True),
        # The leader's poll for changes to apply is served by ix_jobs_sync_pending, a
        # partial index (below the classes).
    )

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(64))
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule_type: Mapped[str] = mapped_column(String(16))
    schedule_config: Mapped[dict[str, Any]]
    timezone: Mapped[str] = mapped_column(String(64))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    max_duration_seconds: Mapped[int] = mapped_column(default=300)
    retry_count: Mapped[int] = mapped_column(default=0)
    retry_delay_seconds: Mapped[int] = mapped_column(default=10)
    overlap_policy: Mapped[str] = mapped_column(String(8), default="skip")
    misfire_grace_seconds: Mapped[int] = mapped_column(default=60)

    last_run_at: Mapped[dt.datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16), index=True)
    last_duration_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    run_count: Mapped[int] = mapped_column(default=0)
    success_count: Mapped[int] = mapped_column(default=0)
    fail_count: Mapped[int] = mapped_column(default=0)
    last_success_at: Mapped[dt.datetime | None]
    last_failure_at: Mapped[dt.datetime | None]
    # The last final outcome (after retries) was a failure: the next success is a
    # recovery.
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"on": [events], "urls": [urls]}, or None for the service's defaults.
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Job ids that get a run when a run of this job ends in success, or in failed or
    # timeout (after its last retry): see app/scheduler/finals.py.
    on_success: Mapped[list[str]] = mapped_column(JSON, default=list)
    on_failure: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Each scheduled fire starts up to this many seconds after its time (at random).
    jitter_seconds: Mapped[int] = mapped_column(default=0)
    # Only workers with all these labels run it (CRONWELL_WORKER_LABELS); and at most
    # CRONWELL_CONCURRENCY_GROUPS[group] runs of its group's jobs at once, anywhere.
    run_on: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    concurrency_group: Mapped[str | None] = mapped_column(String(63))
    # A run still going past this many seconds is "slow": told once, and it goes on.
    expected_duration_seconds: Mapped[int | None]
    # Ids of calendars (app/core/calendars.py) whose times this job's fires skip.
    calendars: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A heartbeat monitor's secret: its ping URL is /ping/<ping_key> (None: not a monitor).
    ping_key: Mapped[str | None] = mapped_column(String(36))  # ux_jobs_ping_key

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None]

    # Bumped on every change that affects scheduling; the leader applies the job to the
    # APScheduler store and clears sync_pending for that version.
    version: Mapped[int] = mapped_column(default=1)
    sync_pending: Mapped[bool] = mapped_column(Boolean, default=True)
    # The newest revision of the definition (job_revisions): bumped in the change's own
    # UPDATE, so two changes at once never take the same number.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")

    #: Not columns: filled in by the services (next_run_at from the job store's join).
    __allow_unmapped__ = True
    next_run_at: dt.datetime | None = None
    recent_executions: list[Execution] | None = None
    tags: list[str] | None = None  # from job_tags


def schedule_changed_at(job: Any) -> dt.datetime:
    """When the store's schedule of ``job`` (a Job or a row with its version, created_at
    and updated_at) was last set: its creation, or the last update after a change that
    rescheduled it (a later update that did not, such as a rename before the leader
    applied the change, may move it a little)."""
    return job.created_at if job.version == 1 else job.updated_at


class Execution(Base):
    """One fire or attempt of a job, from queued to its final status."""

    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_job_id_id", "job_id", "id"),
        # The run queue: a claim reads the queued rows no one holds (worker null) in fire
        # order, passing over a heartbeat monitor's fires that wait for a ping (worker
        # "ping") without reading them.
        Index("ix_executions_queue", "status", "worker", "scheduled_at"),
        # One status's rows in time order (the dashboard's newest failures, a list of
        # executions by status): the queue's index has the worker between the two.
        Index("ix_executions_status_scheduled", "status", "scheduled_at"),
        Index("ix_executions_job_status", "job_id", "status"),
        Index("ux_executions_idempotency", "job_id", "idempotency_key", unique=True),
        # One row per scheduled fire time is ux_executions_fire, a partial index (below
        # the classes).
        # Ids are never reused (SQLite would reuse the highest after a delete, e.g. of a
        # withdrawn fire): an id names one execution for good, to clients and the runner.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(100), ForeignKey("jobs.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(default=1)
    retry_of: Mapped[int | None]
    scheduled_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    duration_ms: Mapped[int | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    output: Mapped[str | None] = mapped_column(Text)
    output_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The execution whose outcome started this one (trigger "chain").
    triggered_by: Mapped[int | None]
    # Run-now's configuration keys for this run only (merged over the job's at start).
    configuration_overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # A fire's time plus its jitter: the run starts then (None: at scheduled_at).
    start_after: Mapped[dt.datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The backfill it belongs to (app/services/backfills.py), else None.
    backfill_id: Mapped[int | None]  # indexed where set (ix_executions_backfill, below)
    # It ran past its job's expected_duration_seconds (told once, as the event "slow").
    slow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The worker whose claim took the row from queued to running, and until when the
    # run is that worker's without a renewal (app/scheduler/claims.py).
    worker: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]

    #: Not a column: filled in by the services.
    __allow_unmapped__ = True
    notifications: list[Notification] | None = None


class ExecutionCount(Base):
    """How many of a job's executions reached each final status, over the job's life
    (history pruning leaves it): ``cronwell_executions_total``."""

    __tablename__ = "execution_counts"

    job_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class NotificationCount(Base):
    """Notification tries by result (``sent``, ``failed``), over the service's life:
    ``cronwell_notifications_total``."""

    __tablename__ = "notification_counts"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class Notification(Base):
    """The outbox: one message about one execution to one URL, until it is delivered."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[int] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class JobTag(Base):
    """One tag of one job (``GET /api/jobs?tag=`` reads the tag's index)."""

    __tablename__ = "job_tags"
    __table_args__ = (Index("ix_job_tags_tag", "tag", "job_id"),)

    job_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(63), primary_key=True)


#: A scheduled fire not started yet: with ``scheduled_at`` ahead, a fire written ahead of
#: its time (see app/scheduler/passes.py).
PLANNED_FIRE = (Execution.trigger == Trigger.SCHEDULE, Execution.status == Status.QUEUED)
#: The ``worker`` of a heartbeat monitor's rows that wait for a ping (queued) or for the
#: end of a started run (running): no worker runs them, the pings and their deadline
#: (``lease_until``) end them (app/core/pings.py).
PING_HOLDER = "ping"
#: A run waiting for a worker: queued, and held by no one (a heartbeat monitor's fire waits
#: for a ping instead). The run queue's index, ix_executions_queue, serves it.
WAITS_FOR_A_WORKER = (Execution.status == Status.QUEUED, Execution.worker.is_(None))


class LeaderRecord(Base):
    """Which process holds the scheduler (one row, id 1): its leadership number
    (``term``, higher for each new leader) and its lease (app/scheduler/leader.py)."""

    __tablename__ = "scheduler_leader"

    id: Mapped[int] = mapped_column(primary_key=True)
    pid: Mapped[int]
    host: Mapped[str] = mapped_column(String(255))
    since: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime]
    term: Mapped[int] = mapped_column(default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]


class CalendarRow(Base):
    """A named set of times when jobs must not run (app/core/calendars.py reads it)."""

    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    holidays: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Backfill(Base):
    """The runs of a time range of one job's schedule, queued one at a time: ``fires``
    holds their times, ``queued`` how many of them are queued so far (the next is queued
    when the one before it is final)."""

    __tablename__ = "backfills"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100), index=True)
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime]
    fires: Mapped[list[str]] = mapped_column(JSON)
    queued: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    cancelled_at: Mapped[dt.datetime | None]


#: How a fire skipped while paused says so: ``paused: <reason>``.
PAUSED_PREFIX = "paused: "


class SchedulerState(Base):
    """The service's pause (one row, id 1): while ``paused``, every scheduled fire is
    recorded ``skipped`` instead of running (app/services/pause.py). And the format of
    the job store's rows that a leader checked all of (``store_checked_by``, null while
    a check is due; app/scheduler/sync.py)."""

    __tablename__ = "scheduler_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_at: Mapped[dt.datetime | None]
    paused_by: Mapped[str | None] = mapped_column(String(120))
    pause_reason: Mapped[str | None] = mapped_column(String(500))
    store_checked_by: Mapped[str | None] = mapped_column(String(64))


#: Workers not heard from for this long are forgotten (and left out of GET /api/workers).
WORKERS_SHOWN_SECONDS = 600


class Worker(Base):
    """A process that runs executions, with its heartbeat (GET /api/workers)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    capacity: Mapped[int]
    running: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime] = mapped_column(index=True)


def _partial_index(
    table: Table, name: str, columns: str, where: dict[str, str], *, unique: bool = False
) -> None:
    """Create a partial index with ``table``: DDL per dialect (``where`` maps a dialect
    name to the predicate). SQLAlchemy's ``postgresql_where`` would import its PostgreSQL
    dialect in every process, on SQLite too, to check the argument (2 MiB of memory)."""
    kind = "UNIQUE INDEX" if unique else "INDEX"
    for dialect, predicate in where.items():
        statement = f"CREATE {kind} {name} ON {table.name} ({columns}) WHERE {predicate}"
        event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


# One row per scheduled fire time: a fire handed out again after a crash (the store not
# yet advanced) is not recorded, or run, twice.
_partial_index(
    Execution.__table__,
    "ux_executions_fire",
    "job_id, scheduled_at",
    {"sqlite": "trigger = 'schedule'", "postgresql": "trigger = 'schedule'"},
    unique=True,
)
# A backfill's runs: only the rows of backfills are in it.
_partial_index(
    Execution.__table__,
    "ix_executions_backfill",
    "backfill_id",
    {"sqlite": "backfill_id IS NOT NULL", "postgresql": "backfill_id IS NOT NULL"},
)
# The leader's poll for changes to apply: only pending jobs are in it.
_partial_index(
    Job.__table__,
    "ix_jobs_sync_pending",
    "id",
    {"sqlite": "sync_pending = 1", "postgresql": "sync_pending"},
)


#: APScheduler's SQLAlchemyJobStore table, declared in our metadata so that the
#: migrations make it with ours and queries can join its indexed next_run_time.
job_store_table = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
