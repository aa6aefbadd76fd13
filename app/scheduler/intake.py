"""The intake: turns fires into execution rows.

APScheduler's thread calls :meth:`Intake.submit` (through ``dispatch.fire``) for each due
job of a pass. During a pass the fires are held in memory and written by
:meth:`write_pending`, which the job store calls inside the very transaction that
advances the jobs' next run times (see :mod:`app.scheduler.store`): a fire is recorded
exactly when the store moves past it, so after a crash it is neither lost nor run twice.
A fire outside a pass (a direct call of ``dispatch.fire``) is written at once.

* a fire to run becomes a ``queued`` row, or ``skipped`` when it is already due, the
  job's overlap policy is ``skip`` and a run of it is still queued or running (a fire
  written ahead of its time is queued; the runner decides at its time);
* fires later than the grace time become one ``missed`` row per job and pass, with the
  count of fires it stands for in ``result.missed_fires``.

The queued rows are offered to the runner once the transaction commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.dialects import sqlite

from app.db import Database, utcnow
from app.models import Execution, Job
from app.scheduler.runner import RUN_SPEC_JOB_COLUMNS, VERIFY_SECONDS, RunSpec

logger = logging.getLogger("cronwell.intake")
#: The job columns a fire needs: overlap and grace now, the rest to start the run.
JOB_COLUMNS = (Job.id, *RUN_SPEC_JOB_COLUMNS, Job.misfire_grace_seconds)
#: Fires closer than this to their time are not withdrawn by a change (see withdraw_planned).
WITHDRAW_MARGIN_SECONDS = VERIFY_SECONDS + 0.15
#: A scheduled fire not started yet: with ``scheduled_at`` ahead, a fire written ahead.
PLANNED = (Execution.trigger == "schedule", Execution.status == "queued")


def _insert_new_fires(dialect: str):
    """INSERT that skips a fire already recorded (the partial unique index on fires)."""
    if dialect == "sqlite":
        return sqlite.insert(Execution).on_conflict_do_nothing()
    if dialect == "postgresql":
        # Imported here: the PostgreSQL dialect costs a SQLite process 2 MiB.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(Execution).on_conflict_do_nothing()
    return insert(Execution)


@dataclass(frozen=True)
class Fire:
    job_id: str
    scheduled_for: dt.datetime | None
    missed: tuple[dt.datetime, ...]


class Intake:
    def __init__(self, db: Database, offer: Callable[[list[RunSpec]], None]) -> None:
        self.db = db
        self.offer = offer
        self._pending: list[Fire] = []
        #: The scheduler thread while it runs a pass (set by the scheduler).
        self.pass_thread: threading.Thread | None = None

    def submit(
        self, job_id: str, scheduled_for: dt.datetime | None, missed: Sequence[dt.datetime]
    ) -> None:
        fire = Fire(job_id, scheduled_for, tuple(missed))
        if threading.current_thread() is self.pass_thread:
            self._pending.append(fire)  # written with the pass's job store changes
            return
        with self.db.write_connection() as connection:
            specs = self.record(connection, [fire])
        self.offer(specs)

    def has_pending(self) -> bool:
        return bool(self._pending)

    def discard_pending(self) -> None:
        """The pass could not be written: its fires will be handed out again."""
        self._pending = []

    def write_pending(self, connection) -> Callable[[], None]:
        """Write the pass's fires on ``connection``; returns what to do after commit."""
        fires, self._pending = self._pending, []
        specs = self.record(connection, fires) if fires else []
        return lambda: self.offer(specs) if specs else None

    def record(self, session, batch: list[Fire]) -> list[RunSpec]:
        """Write a batch of fires as execution rows on ``session`` (a write transaction).

        Returns what the runner needs to start the queued ones.
        """
        now = utcnow()
        job_ids = {f.job_id for f in batch}
        jobs = {
            row.id: row
            for row in session.execute(
                select(*JOB_COLUMNS).where(Job.id.in_(job_ids), Job.deleted_at.is_(None))
            )
        }
        busy = self._busy_runs(
            session, [j for j, r in jobs.items() if r.overlap_policy == "skip"], now
        )
        rows = []
        for fire in batch:
            job = jobs.get(fire.job_id)
            if job is None:
                continue  # deleted while the fire was in flight
            if fire.missed:
                rows.append(self._missed_row(fire, job.misfire_grace_seconds, now))
            if fire.scheduled_for is None:
                continue
            due = fire.scheduled_for <= now
            if job.overlap_policy == "skip" and due and fire.job_id in busy:
                rows.append(
                    {
                        "job_id": fire.job_id,
                        "status": "skipped",
                        "trigger": "schedule",
                        "attempt": 1,
                        "scheduled_at": fire.scheduled_for,
                        "finished_at": now,
                        "error": "Skipped: the previous run "
                        f"(execution {busy[fire.job_id]}) was still in progress "
                        "and overlap_policy is skip.",
                        "created_at": now,
                    }
                )
                continue
            rows.append(
                {
                    "job_id": fire.job_id,
                    "status": "queued",
                    "trigger": "schedule",
                    "attempt": 1,
                    "scheduled_at": fire.scheduled_for,
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
        written = session.execute(
            _insert_new_fires(session.dialect.name).returning(
                Execution.id, Execution.job_id, Execution.scheduled_at, Execution.status
            ),
            rows,
        ).all()
        return [
            RunSpec(
                execution_id=row.id,
                scheduled_at=row.scheduled_at,
                attempt=1,
                retry_of=None,
                trigger="schedule",
                job_id=row.job_id,
                **{c.key: getattr(jobs[row.job_id], c.key) for c in RUN_SPEC_JOB_COLUMNS},
            )
            for row in written
            if row.status == "queued"
        ]

    @staticmethod
    def withdraw_planned(session, job_id: str) -> int:
        """Delete the job's fires written ahead of their time (its schedule or definition
        is changing: the store hands them out again as the job now says).

        Called in the changing transaction. Fires due within WITHDRAW_MARGIN_SECONDS are
        kept and run as planned: the runner may already have checked them (it does, at
        most VERIFY_SECONDS before a start), and a run must never lose its row.
        """
        margin = dt.timedelta(seconds=WITHDRAW_MARGIN_SECONDS)
        return session.execute(
            delete(Execution).where(
                Execution.job_id == job_id, *PLANNED, Execution.scheduled_at > utcnow() + margin
            )
        ).rowcount

    @staticmethod
    def _busy_runs(session, job_ids: list[str], now: dt.datetime) -> dict[str, object]:
        if not job_ids:
            return {}
        stmt = select(Execution.job_id, Execution.id).where(
            Execution.job_id.in_(job_ids),
            or_(
                Execution.status == "running",
                (Execution.status == "queued") & (Execution.scheduled_at <= now),
            ),
        )
        return {job_id: exec_id for job_id, exec_id in session.execute(stmt)}

    @staticmethod
    def _missed_row(fire: Fire, grace: int, now: dt.datetime) -> dict:
        count = len(fire.missed)
        first, last = fire.missed[0], fire.missed[-1]
        ran = " (a later fire within the grace time runs instead)" if fire.scheduled_for else ""
        return {
            "job_id": fire.job_id,
            "status": "missed",
            "trigger": "schedule",
            "attempt": 1,
            "scheduled_at": first,
            "finished_at": now,
            "result": {
                "missed_fires": count,
                "first_scheduled_at": first.astimezone(dt.UTC).isoformat(),
                "last_scheduled_at": last.astimezone(dt.UTC).isoformat(),
            },
            "error": f"{count} fire(s) missed: more than misfire_grace_seconds ({grace}) "
            f"late{ran}.",
            "created_at": now,
        }
