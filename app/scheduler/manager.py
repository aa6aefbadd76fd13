"""The scheduler side of one process, and the door the services use to reach it.

Only the holder of the leader lock runs the fire path: APScheduler's thread and its pass,
the runner, its workers, watchdog and recorder. Every other process serves the API and
retries the lock every LEADER_RETRY_SECONDS, so a dead leader is replaced. The leader's
own thread also applies job changes to the store (:mod:`app.scheduler.sync`), beats the
leader record and prunes history.

The services see only the door: :meth:`SchedulerManager.reschedule` and
:meth:`~SchedulerManager.withdraw_planned` in a changing transaction,
:meth:`~SchedulerManager.job_changed` after it, :meth:`~SchedulerManager.wake`,
:meth:`~SchedulerManager.cancel`, and the status reads. Each works in any process; in
one that does not lead, the leader picks the change up from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.db import Database, sqlite_path, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.models import Job
from app.notify.sender import SenderProcess
from app.scheduler import leader
from app.scheduler.aps import CronwellScheduler
from app.scheduler.intake import withdraw_planned
from app.scheduler.maintenance import prune_history, recover_interrupted
from app.scheduler.passes import Pass
from app.scheduler.runner import Runner
from app.scheduler.store import CronwellJobStore
from app.scheduler.sync import StoreSync

logger = logging.getLogger("cronwell.scheduler")
HEARTBEAT_SECONDS = 2.0
PRUNE_SECONDS = 2.0
#: After a change wakes it, the leader waits this long for more before applying them: a
#: script creating jobs one after another gets one sync for many (each sync is a
#: transaction, and its APScheduler add_job calls wake a pass).
GATHER_SECONDS = 0.05


class SchedulerManager:
    def __init__(
        self,
        db: Database,
        registry: JobTypeRegistry,
        settings: dict[str, Any],
        instruments: Instruments,
    ) -> None:
        self.db = db
        self.settings = settings
        self.instruments = instruments
        self.lock = leader.make_leader_lock(db.engine, sqlite_path(str(db.engine.url)))
        self.runner = Runner(db, registry, settings, instruments)
        self.sender = SenderProcess(db, settings)
        self.scheduler: CronwellScheduler | None = None
        self.sync: StoreSync | None = None
        self.leading_since: dt.datetime | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the door ----------------------------------------------------------------------

    @staticmethod
    def reschedule(session: Session | Connection, job: Job) -> None:
        """In the transaction that changes ``job``'s schedule, enabled or deleted state:
        mark it for the store and withdraw its fires written ahead (the store plans them
        again as the job now is). Call :meth:`job_changed` after the commit."""
        job.version += 1
        job.sync_pending = True
        withdraw_planned(session, job.id)

    @staticmethod
    def withdraw_planned(session: Session | Connection, job_id: str) -> None:
        """In a changing transaction: withdraw the job's fires written ahead (before
        cancelling its queued runs, which would otherwise cancel them too)."""
        withdraw_planned(session, job_id)

    def job_changed(self) -> None:
        """A job change was committed: the leader applies it within GATHER_SECONDS (this
        process) or at its poll (another)."""
        self._wake.set()

    def wake(self, execution_id: int) -> None:
        """A run was queued (run-now): the runner starts it now (here) or finds it at its
        poll (another process)."""
        if self.is_leader:
            self.runner.wake(execution_id)

    def cancel(self, execution_id: int) -> None:
        """A run was cancelled in the database: drop or stop it now if it is this
        process's (the leader's watchdog picks the flag up otherwise)."""
        if self.is_leader:
            self.runner.cancel(execution_id)

    @property
    def is_leader(self) -> bool:
        return self.leading_since is not None

    @property
    def is_running(self) -> bool:
        """This process leads and its scheduler runs."""
        return self.is_leader and bool(self.scheduler and self.scheduler.running)

    def running_anywhere(self) -> bool:
        """This process runs the scheduler, or another leader beat recently."""
        if self.is_leader:
            return self.is_running
        info = self.leader_info()
        if info is None:
            return False
        return (utcnow() - info["heartbeat_at"]).total_seconds() < HEARTBEAT_SECONDS * 5

    def leader_info(self) -> dict[str, Any] | None:
        return leader.read_leader_record(self.db)

    # -- lifecycle ---------------------------------------------------------------------

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
            if grace_seconds is None:
                grace_seconds = float(self.settings.get("SHUTDOWN_GRACE_SECONDS", 30))
            self._step_down(grace_seconds)

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
        leader.write_leader_record(self.db, since)
        self.leading_since = since
        self.instruments.leader.set(1)
        logger.info("Process %d leads the scheduler", os.getpid())
        recover_interrupted(self.db, self.settings)
        store = CronwellJobStore(self.db)
        prefire = float(self.settings.get("PREFIRE_SECONDS", 1.0))
        run_pass = Pass(self.db, store, self.runner.offer, prefire, self.settings)
        self.scheduler = CronwellScheduler(run_pass, jobstores={"default": store}, timezone=dt.UTC)
        self.sync = StoreSync(self.db, self.scheduler, store)
        self.runner.start()
        self.scheduler.start(paused=True)
        self.sync.reconcile()
        self.scheduler.resume()

    def _step_down(self, grace: float) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.runner.stop(grace)
        self.sender.stop()
        try:
            leader.clear_leader_record(self.db)
        except Exception:
            logger.exception("Could not clear the leader record")
        self.lock.release()
        self.leading_since = None
        self.instruments.leader.set(0)
        self.scheduler = self.sync = None

    def _loop(self) -> None:
        retry = float(self.settings.get("LEADER_RETRY_SECONDS", 1.0))
        sync_every = float(self.settings.get("SYNC_INTERVAL_SECONDS", 0.5))
        history_limit = int(self.settings.get("HISTORY_LIMIT", 1000))
        last_beat = last_prune = 0.0
        while not self._stop.is_set():
            if not self.is_leader:
                if self._stop.wait(retry):
                    return
                try:
                    if self.lock.acquire():
                        self._become_leader()
                except Exception:
                    logger.exception("Taking over the scheduler failed")
                continue
            if self._wake.wait(sync_every) and self._stop.wait(GATHER_SECONDS):
                return
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            try:
                self.sync.apply_pending()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = now
                    leader.write_leader_record(self.db, self.leading_since)
                if now - last_prune >= PRUNE_SECONDS:
                    last_prune = now
                    prune_history(self.db, self.runner.take_finished_jobs(), history_limit)
            except Exception:
                logger.exception("Scheduler upkeep failed")
            try:  # on its own: a failure here must not cost a heartbeat
                self.sender.check()
            except Exception:
                logger.exception("Starting the notification sender failed")
