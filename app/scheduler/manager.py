"""The scheduler side of one process: lead (or wait to), reconcile, sync, maintain.

Only the holder of the leader lock runs APScheduler, the intake and the runner; every
other process serves the API and retries the lock every LEADER_RETRY_SECONDS, so a dead
leader is replaced. Our ``jobs`` table is the source of truth: a change marks the job
``sync_pending`` and bumps its ``version``; the leader applies pending jobs to the
APScheduler store (at once when the change was made in the leading process, else within
SYNC_INTERVAL_SECONDS) and clears the flag for the version it applied.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from sqlalchemy import delete, insert, select, update

from app.db import Database, sqlite_path, utcnow
from app.jobtypes import JobTypeRegistry
from app.jobtypes.shell import kill_orphans
from app.models import Execution, Job, LeaderRecord, job_store_table
from app.scheduler import dispatch
from app.scheduler.executor import IntakeExecutor
from app.scheduler.intake import Intake
from app.scheduler.leader import make_leader_lock
from app.scheduler.recording import apply_outcome
from app.scheduler.runner import Runner
from app.scheduler.store import CronwellJobStore, CronwellScheduler, stored_job_row
from app.scheduler.triggers import Schedule

logger = logging.getLogger("cronwell.scheduler")
HEARTBEAT_SECONDS = 2.0
PRUNE_SECONDS = 2.0
PRUNE_BATCH = 500
#: Built once (a statement built per call costs more than running it).
_STORE_INSERT = insert(job_store_table)


class SchedulerManager:
    def __init__(self, db: Database, registry: JobTypeRegistry, settings: dict[str, Any]) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.lock = make_leader_lock(db.engine, sqlite_path(str(db.engine.url)))
        self.runner = Runner(db, registry, settings)
        self.intake = Intake(db, self.runner.offer)
        self.scheduler: CronwellScheduler | None = None
        self.leading_since: dt.datetime | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.leading_since is not None

    @property
    def is_running(self) -> bool:
        """This process leads and its scheduler thread is alive."""
        thread = getattr(self.scheduler, "_thread", None)
        return (
            self.is_leader
            and bool(self.scheduler and self.scheduler.running)
            and bool(thread and thread.is_alive())
        )

    def start(self) -> None:
        """Try to lead now (so an embedding app has a running scheduler on return)."""
        if self._thread is not None:
            return
        self._stop.clear()
        try:
            if self.lock.acquire():
                self._become_leader()
        except Exception:
            logger.exception("Could not start the scheduler; will retry")
        self._thread = threading.Thread(target=self._loop, name="cronwell-manager", daemon=True)
        self._thread.start()

    def shutdown(self, grace_seconds: float | None = None) -> None:
        """Stop taking fires, let runs finish for the grace time, then release the lock."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.is_leader:
            grace = (
                float(self.settings.get("SHUTDOWN_GRACE_SECONDS", 30))
                if grace_seconds is None
                else grace_seconds
            )
            self._step_down(grace)

    def _become_leader(self) -> None:
        try:
            self._take_over()
        except Exception:
            self._step_down(0)
            raise

    def _take_over(self) -> None:
        since = utcnow()
        # The record first: this process must not say it leads while the record still
        # names the previous leader.
        self._write_leader_record(since)
        self.leading_since = since
        logger.info("Process %d leads the scheduler", os.getpid())
        self.recover_interrupted()
        self.scheduler = CronwellScheduler(
            jobstores={"default": CronwellJobStore(self.db, self.intake)},
            executors={"default": IntakeExecutor()},
            job_defaults={"coalesce": False, "max_instances": 1_000_000},
            timezone=dt.UTC,
            prefire_seconds=float(self.settings.get("PREFIRE_SECONDS", 1.0)),
        )
        dispatch.set_sink(self.intake.submit)
        self.runner.start()
        self.scheduler.start(paused=True)
        self.reconcile()
        self.scheduler.resume()

    def _step_down(self, grace: float) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.runner.stop(grace)
        dispatch.set_sink(None)
        try:
            with self.db.write() as session:
                session.execute(delete(LeaderRecord).where(LeaderRecord.pid == os.getpid()))
        except Exception:
            logger.exception("Could not clear the leader record")
        self.lock.release()
        self.leading_since = None
        self.scheduler = None

    def _loop(self) -> None:
        retry = float(self.settings.get("LEADER_RETRY_SECONDS", 1.0))
        sync = float(self.settings.get("SYNC_INTERVAL_SECONDS", 0.5))
        last_beat = last_prune = 0.0
        while not self._stop.is_set():
            if not self.is_leader:
                self._stop.wait(retry)
                if self._stop.is_set():
                    return
                try:
                    if self.lock.acquire():
                        self._become_leader()
                except Exception:
                    logger.exception("Taking over the scheduler failed")
                continue
            self._wake.wait(sync)
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            try:
                self.sync_pending()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = now
                    self._write_leader_record()
                if now - last_prune >= PRUNE_SECONDS:
                    last_prune = now
                    self.prune_history()
            except Exception:
                logger.exception("Scheduler maintenance failed")

    # -- leader record and recovery ---------------------------------------------------

    def _write_leader_record(self, since: dt.datetime | None = None) -> None:
        now = utcnow()
        with self.db.write() as session:
            record = session.get(LeaderRecord, 1)
            if record is None or record.pid != os.getpid() or record.host != socket.gethostname():
                session.merge(
                    LeaderRecord(
                        id=1,
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        since=since or self.leading_since or now,
                        heartbeat_at=now,
                    )
                )
            else:
                record.heartbeat_at = now

    def recover_interrupted(self) -> int:
        """Mark runs the previous leader left queued or running as ``interrupted``.

        Retries dated in the future are kept: they are a schedule, not a run in flight.
        """
        now = utcnow()
        with self.db.write() as session:
            running = session.execute(
                select(Execution.id, Execution.job_id, Execution.started_at).where(
                    Execution.status == "running"
                )
            ).all()
            for execution_id, job_id, started_at in running:
                duration = int((now - started_at).total_seconds() * 1000) if started_at else None
                error = "The service stopped while this run was in progress."
                session.execute(
                    update(Execution)
                    .where(Execution.id == execution_id)
                    .values(
                        status="interrupted", finished_at=now, duration_ms=duration, error=error
                    )
                )
                apply_outcome(session, job_id, "interrupted", started_at, duration, error)
            queued = session.execute(
                update(Execution)
                .where(Execution.status == "queued", Execution.scheduled_at <= now)
                .values(
                    status="interrupted",
                    finished_at=now,
                    # The runner writes starts in batches: a run started just before a
                    # crash may still read queued.
                    error="The service stopped before this run's start was recorded: "
                    "it did not start, or started just before the stop.",
                )
            ).rowcount
        if running:
            killed = kill_orphans({execution_id for execution_id, _, _ in running})
            if killed:
                logger.warning("Killed %d process group(s) left by interrupted runs", killed)
        if running or queued:
            logger.warning(
                "Marked %d running and %d queued run(s) interrupted", len(running), queued
            )
        return len(running) + queued

    # -- the APScheduler store, reconciled from our jobs --------------------------------

    def reconcile(self) -> None:
        """At start: apply pending jobs, restore missing ones, drop orphans."""
        with self.db.read() as session:
            store = job_store_table
            orphans = session.scalars(
                select(store.c.id)
                .outerjoin(Job, Job.id == store.c.id)
                .where((Job.id.is_(None)) | Job.deleted_at.is_not(None) | ~Job.is_enabled)
            ).all()
            missing = session.scalars(
                select(Job.id)
                .outerjoin(store, store.c.id == Job.id)
                .where(
                    store.c.id.is_(None),
                    Job.deleted_at.is_(None),
                    Job.is_enabled,
                    Job.schedule_type != "once",  # a one-shot that fired is finished
                )
            ).all()
        for job_id in orphans:
            self._remove_from_store(job_id)
        for job_id in missing:
            self.sync_job(job_id)
        self.sync_pending()

    def sync_pending(self) -> None:
        with self.db.read() as session:
            pending = session.scalars(select(Job.id).where(Job.sync_pending)).all()
        for job_id in pending:
            self.sync_job(job_id)

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Around a write transaction that calls :meth:`apply_to_store`.

        Holds APScheduler's job store lock when this process leads, so a scheduler pass
        cannot write back a stale state of the job in between. (Order: this lock, then
        the database write lock, as in a pass.)
        """
        scheduler = self.scheduler
        with scheduler._jobstores_lock if scheduler is not None else contextlib.nullcontext():
            yield

    def apply_to_store(self, session, job: Job, *, new: bool = False) -> dt.datetime | None:
        """Put the job's schedule in the store (or take it out), in the caller's
        transaction (a Session, or a Core Connection for a new job); the next run time,
        or None.

        Fires of the job written ahead of their time are withdrawn first, in whichever
        process makes the change (see :meth:`Intake.withdraw_planned`): the store hands
        them out again as the job now is, or not at all.
        When this process does not lead, the job stays ``sync_pending`` and the leader
        applies it within SYNC_INTERVAL_SECONDS. ``new``: the job is being created (it
        has no store row and no planned fires yet).
        """
        if not new:
            self.intake.withdraw_planned(session, job.id)
        if self.scheduler is None:
            return None
        store = job_store_table
        if not new:
            session.execute(delete(store).where(store.c.id == job.id))
        next_run = None
        if job.is_schedulable and not self._is_spent(job):
            schedule = Schedule(job.schedule_type, job.schedule_config, job.timezone)
            row = stored_job_row(job.id, schedule.trigger(), job.misfire_grace_seconds, utcnow())
            session.execute(_STORE_INSERT, row)
            if row["next_run_time"] is not None:
                next_run = dt.datetime.fromtimestamp(row["next_run_time"], dt.UTC)
        job.sync_pending = False
        return next_run

    def after_change(self, next_run: dt.datetime | None = None) -> None:
        """A change was committed: wake the scheduler if the job is due before its
        planned pass (here), or the leader's poll (another process)."""
        if self.scheduler is not None:
            self.scheduler.wakeup_before(next_run)
        else:
            self._wake.set()

    def sync_job(self, job_id: str) -> None:
        """Apply one job (changed in another process, or missing) to the store."""
        if self.scheduler is None:
            return
        with self.changing(), self.db.write() as session:
            job = session.get(Job, job_id)
            if job is not None:
                self.apply_to_store(session, job)
            else:
                session.execute(delete(job_store_table).where(job_store_table.c.id == job_id))
        self.scheduler.wakeup()  # rare (other workers' changes): no need to be clever

    @staticmethod
    def _is_spent(job: Job) -> bool:
        """A one-shot whose time (and grace) passed: re-enabling it does not fire it."""
        if job.schedule_type != "once":
            return False
        run_at = dt.datetime.fromisoformat(job.schedule_config["run_at"])
        return run_at + dt.timedelta(seconds=job.misfire_grace_seconds) < utcnow()

    def _remove_from_store(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    # -- retention ---------------------------------------------------------------------

    def prune_history(self) -> int:
        """Keep the newest HISTORY_LIMIT finished executions per job, in small batches.

        One read finds the jobs over the limit (a burst of one-shots finishes a thousand
        jobs, none of them over it); only those take the write lock.
        """
        limit = int(self.settings.get("HISTORY_LIMIT", 1000))
        jobs = sorted(self.runner.take_finished_jobs())
        over: dict[str, int] = {}
        for start in range(0, len(jobs), PRUNE_BATCH):
            chunk = jobs[start : start + PRUNE_BATCH]
            cutoff = (
                select(Execution.id)
                .where(Execution.job_id == Job.id)
                .order_by(Execution.id.desc())
                .offset(limit)
                .limit(1)
                .correlate(Job)
                .scalar_subquery()
            )
            with self.db.read() as session:
                rows = session.execute(
                    select(Job.id, cutoff).where(Job.id.in_(chunk), cutoff.is_not(None))
                ).all()
            over.update({job_id: job_cutoff for job_id, job_cutoff in rows})
        removed = 0
        for job_id, cutoff_id in over.items():
            while True:
                doomed = (
                    select(Execution.id)
                    .where(
                        Execution.job_id == job_id,
                        Execution.id <= cutoff_id,
                        Execution.status.not_in(("queued", "running")),
                    )
                    .order_by(Execution.id)
                    .limit(PRUNE_BATCH)
                )
                with self.db.write() as session:
                    count = session.execute(
                        delete(Execution).where(Execution.id.in_(doomed.scalar_subquery()))
                    ).rowcount
                removed += count
                if count < PRUNE_BATCH:
                    break
        return removed

    # -- status ------------------------------------------------------------------------

    def leader_info(self) -> dict[str, Any] | None:
        with self.db.read() as session:
            record = session.get(LeaderRecord, 1)
            if record is None:
                return None
            return {
                "pid": record.pid,
                "host": record.host,
                "since": record.since,
                "heartbeat_at": record.heartbeat_at,
            }

    def scheduler_alive_anywhere(self) -> bool:
        """True when this process runs the scheduler, or another leader beats recently."""
        if self.is_leader:
            return self.is_running
        info = self.leader_info()
        if info is None:
            return False
        return (utcnow() - info["heartbeat_at"]).total_seconds() < HEARTBEAT_SECONDS * 5
