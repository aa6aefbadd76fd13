"""APScheduler's SQLAlchemy job store on our engine, with batched writes.

APScheduler's ``_process_jobs`` writes each due job back to the store on its own (an
UPDATE or DELETE and a commit per job): about 2 ms a job on SQLite, so the 1000th job of a
burst is handed out seconds late, and every commit competes with run recording for the
write lock. During a pass, :class:`CronwellScheduler` puts the store in batch mode: the
scheduler thread's updates and removals are collected and written in one transaction
before the pass asks for the next run time (still under the job store lock, so no other
thread sees the store in between).

Reads use the database's read-only view; writes go through :meth:`Database.write_connection`
(the process write lock and ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

import functools
import logging
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta
from threading import TIMEOUT_MAX
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.models import job_store_table
from app.scheduler.intake import Intake

logger = logging.getLogger("cronwell.scheduler")


def stored_job_row(job_id: str, trigger, grace_seconds: int, now) -> dict[str, Any]:
    """The store row of a Cronwell job, exactly as ``SQLAlchemyJobStore.add_job`` writes it."""
    next_run_time = trigger.get_next_fire_time(None, now)
    state = {
        **_shared_job_state(),
        "id": job_id,
        "trigger": trigger,
        "args": [job_id],
        "name": job_id,
        "misfire_grace_time": grace_seconds,
        "next_run_time": next_run_time,
    }
    return {
        "id": job_id,
        "next_run_time": datetime_to_utc_timestamp(next_run_time),
        "job_state": pickle.dumps(state, pickle.HIGHEST_PROTOCOL),
    }


@functools.cache
def _shared_job_state() -> dict[str, Any]:
    """The state APScheduler pickles for a job, from a real ``Job``: what every Cronwell
    job shares (its function, executor, limits). Building a ``Job`` per row costs more than
    the rest of a create (it inspects the function's signature each time)."""
    from apscheduler.job import Job as APSJob
    from apscheduler.triggers.date import DateTrigger

    from app.scheduler import dispatch

    job = APSJob(
        BackgroundScheduler(timezone=UTC),
        id="template",
        func=dispatch.fire,
        args=["template"],
        kwargs={},
        name="template",
        trigger=DateTrigger(datetime(2000, 1, 1, tzinfo=UTC)),
        executor="default",
        misfire_grace_time=1,
        coalesce=False,
        max_instances=1_000_000,
        next_run_time=None,
    )
    return job.__getstate__()


class CronwellJobStore(SQLAlchemyJobStore):
    """The store table from our metadata; batched, serialized writes."""

    def __init__(self, db: Database, intake: Intake | None = None) -> None:
        super().__init__(engine=db.reader, tablename=job_store_table.name)
        self.jobs_t = job_store_table
        self.db = db
        self.intake = intake
        self._batch_thread: threading.Thread | None = None
        self._updates: dict[str, dict[str, Any]] = {}
        self._removals: set[str] = set()

    # -- batching -------------------------------------------------------------------------

    def begin_batch(self) -> None:
        self._batch_thread = threading.current_thread()
        if self.intake is not None:
            self.intake.pass_thread = self._batch_thread

    def end_batch(self) -> None:
        self.flush()
        self._batch_thread = None
        if self.intake is not None:
            self.intake.pass_thread = None

    def _batching(self) -> bool:
        return self._batch_thread is threading.current_thread()

    def flush(self) -> None:
        """Write the pass: its fires (through the intake) and the store's changes, at once.

        On a database error nothing is written, so the store still holds the old next run
        times and APScheduler hands the same fires out again on its next pass (the fire
        index keeps any from being recorded twice). Errors are logged, never raised into
        the scheduler's thread, which would die of them.
        """
        fires = self.intake is not None and self.intake.has_pending()
        if not self._updates and not self._removals and not fires:
            return
        updates, removals = list(self._updates.values()), list(self._removals)
        self._updates, self._removals = {}, set()
        try:
            after_commit = self._write(updates, removals)
        except Exception:
            logger.exception("Could not write a scheduler pass; it will be handed out again")
            if self.intake is not None:
                self.intake.discard_pending()
            time.sleep(0.5)
            return
        after_commit()

    def _write(self, updates: list[dict[str, Any]], removals: list[str]):
        with self.db.write_connection() as connection:
            after_commit = (
                self.intake.write_pending(connection) if self.intake is not None else lambda: None
            )
            if updates:
                connection.execute(
                    self.jobs_t.update()
                    .where(self.jobs_t.c.id == bindparam("b_id"))
                    .values(
                        next_run_time=bindparam("b_next_run_time"),
                        job_state=bindparam("b_job_state"),
                    ),
                    updates,
                )
            if removals:
                connection.execute(self.jobs_t.delete().where(self.jobs_t.c.id.in_(removals)))
        return after_commit

    # -- writes ---------------------------------------------------------------------------

    def _row(self, job) -> dict[str, Any]:
        return {
            "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
            "job_state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
        }

    def add_job(self, job) -> None:
        self.flush()
        with self.db.write_connection() as connection:
            try:
                connection.execute(self.jobs_t.insert().values(id=job.id, **self._row(job)))
            except IntegrityError:
                raise ConflictingIdError(job.id) from None

    def update_job(self, job) -> None:
        if self._batching():
            self._removals.discard(job.id)
            self._updates[job.id] = {f"b_{k}": v for k, v in self._row(job).items()} | {
                "b_id": job.id
            }
            return
        self.flush()
        with self.db.write_connection() as connection:
            changed = connection.execute(
                self.jobs_t.update().where(self.jobs_t.c.id == job.id).values(**self._row(job))
            ).rowcount
        if not changed:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        if self._batching():
            self._updates.pop(job_id, None)
            self._removals.add(job_id)
            return
        self.flush()
        with self.db.write_connection() as connection:
            removed = connection.execute(
                self.jobs_t.delete().where(self.jobs_t.c.id == job_id)
            ).rowcount
        if not removed:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._updates, self._removals = {}, set()
        with self.db.write_connection() as connection:
            connection.execute(self.jobs_t.delete())

    def get_next_run_time(self):
        self.flush()  # the pass is over: write its batch before the next wakeup is chosen
        return super().get_next_run_time()

    def shutdown(self) -> None:
        self.flush()  # never dispose the shared engine


class CronwellScheduler(BackgroundScheduler):
    """A BackgroundScheduler that hands fires out ahead of their time, writes each pass in
    one batch, and says when it plans to wake (so a change need not wake it for nothing).

    A pass takes every job due within ``prefire_seconds`` and hands out its fire times,
    future ones included: the intake writes them as ``queued`` rows in the pass's
    transaction and the runner starts each at its time. The pass's database work is then
    off the path from a fire's time to its start, and a burst of a thousand jobs due at
    once is written before the instant comes. Passes are at least half of
    ``prefire_seconds`` apart (unless a change wakes the scheduler), so each covers many
    fires. ``prefire_seconds=0`` is APScheduler's own behaviour: a pass at each fire time.
    """

    #: time.monotonic() of the next planned pass; None: none planned (no jobs).
    planned_wakeup: float | None = 0.0

    def __init__(self, *args: Any, prefire_seconds: float = 0.0, **kwargs: Any) -> None:
        self.prefire = timedelta(seconds=max(0.0, prefire_seconds))
        super().__init__(*args, **kwargs)

    def _process_jobs(self) -> float | None:
        """APScheduler's pass (``BaseScheduler._process_jobs``) with a horizon."""
        if self.state == STATE_PAUSED:
            return None
        now = datetime.now(self.timezone)
        horizon = now + self.prefire
        next_wakeup: datetime | None = None
        events = []
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                batching = isinstance(store, CronwellJobStore)
                if batching:
                    store.begin_batch()
                try:
                    try:
                        due_jobs = store.get_due_jobs(horizon)
                    except Exception as exc:
                        logger.warning("Error getting due jobs from job store %r: %s", alias, exc)
                        retry = now + timedelta(seconds=self.jobstore_retry_interval)
                        next_wakeup = min(next_wakeup or retry, retry)
                        continue
                    for job in due_jobs:
                        events += self._hand_out(job, alias, horizon)
                finally:
                    if batching:
                        store.end_batch()
                store_next = store.get_next_run_time()
                if store_next and (next_wakeup is None or store_next < next_wakeup):
                    next_wakeup = store_next.astimezone(self.timezone)
        for event in events:
            self._dispatch_event(event)
        if self.state == STATE_PAUSED or next_wakeup is None:
            wait_seconds = None
        else:
            until_due = (next_wakeup - self.prefire - datetime.now(self.timezone)).total_seconds()
            wait_seconds = min(max(until_due, self.prefire.total_seconds() / 2), TIMEOUT_MAX)
        self.planned_wakeup = None if wait_seconds is None else time.monotonic() + wait_seconds
        return wait_seconds

    def _hand_out(self, job, alias: str, horizon: datetime) -> list[JobSubmissionEvent]:
        """Submit one due job's fire times up to ``horizon``; advance or remove it."""
        try:
            executor = self._lookup_executor(job.executor)
        except BaseException:
            logger.error("Executor lookup (%r) failed for job %r: removing it", job.executor, job)
            self.remove_job(job.id, alias)
            return []
        run_times = job._get_run_times(horizon)
        run_times = run_times[-1:] if run_times and job.coalesce else run_times
        if not run_times:
            return []
        events = []
        try:
            executor.submit_job(job, run_times)
        except BaseException:
            logger.exception("Error submitting job %r to executor %r", job, job.executor)
        else:
            events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times))
        job_next_run = job.trigger.get_next_fire_time(run_times[-1], horizon)
        if job_next_run:
            job._modify(next_run_time=job_next_run)
            self._jobstores[alias].update_job(job)
        else:
            self.remove_job(job.id, alias)
        return events

    def wakeup_before(self, moment) -> None:
        """Wake now if ``moment`` (aware datetime) must be handed out before the planned pass."""
        if moment is None:
            return
        seconds_away = (moment - datetime.now(UTC)).total_seconds() - self.prefire.total_seconds()
        planned = self.planned_wakeup
        if planned is None or time.monotonic() + seconds_away < planned:
            self.wakeup()
