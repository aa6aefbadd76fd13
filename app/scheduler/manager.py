"""The scheduler side of one process, and the door the services use to reach it.

Every process is a **worker**: its runner claims due runs and executes them
(:mod:`app.scheduler.claims`), up to MAX_CONCURRENT (none with EXECUTE false). One
process at a time **leads** (:mod:`app.scheduler.leader`): it runs the pass (which plans
fires as ``queued`` rows, :mod:`app.scheduler.aps`), applies job changes to the store
(:mod:`app.scheduler.sync`), records ``interrupted`` the runs whose worker stopped
renewing their lease, and prunes history. Each of its writes is fenced by its
leadership number; a stale one makes it step down at once. Every other process tries
to take over every LEADER_RETRY_SECONDS.

The services see only the door: :meth:`SchedulerManager.reschedule` and
:meth:`~SchedulerManager.withdraw_planned` in a changing transaction,
:meth:`~SchedulerManager.job_changed` after it, :meth:`~SchedulerManager.wake`,
:meth:`~SchedulerManager.cancel`, and the status reads. Each works in any process; in
one that does not lead, the leader picks the change up from the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database, sqlite_path, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.models import Job
from app.notify.sender import SenderProcess
from app.scheduler import claims, leader
from app.scheduler.aps import PassLoop, store_scheduler
from app.scheduler.claims import new_worker_id
from app.scheduler.intake import withdraw_planned
from app.scheduler.maintenance import (
    expire_monitors,
    prune_audit,
    prune_history,
    reap_lost_runs,
)
from app.scheduler.passes import Pass
from app.scheduler.runner import Runner
from app.scheduler.store import CronwellJobStore
from app.scheduler.sync import StoreSync
from app.scheduler.wakeups import announce_queued

logger = logging.getLogger("cronwell.scheduler")
PRUNE_SECONDS = 2.0
REAP_SECONDS = 1.0
AUDIT_PRUNE_SECONDS = 3600.0
#: After a change wakes it, the leader waits this long for more before applying them: a
#: script creating jobs one after another gets one sync for many (each sync is a
#: transaction, and its APScheduler add_job calls wake a pass).
GATHER_SECONDS = 0.05


class SchedulerManager:
    def __init__(
        self,
        db: Database,
        registry: JobTypeRegistry,
        settings: Settings,
        instruments: Instruments,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.instruments = instruments
        self.worker_id = new_worker_id()
        self.lease_seconds = settings.lease_seconds
        lock = leader.make_leader_lock(db.engine, sqlite_path(str(db.engine.url)))
        self.leadership = leader.Leadership(db, lock, self.worker_id, self.lease_seconds)
        self.runner: Runner | None = None
        if settings.execute:
            self.runner = Runner(db, registry, settings, instruments, self.worker_id)
        self.sender = SenderProcess(db, settings)
        self.started_at = utcnow()
        self.scheduler: BackgroundScheduler | None = None  # APScheduler, paused: the store
        self.passes: PassLoop | None = None
        self.sync: StoreSync | None = None
        self.leading_since: dt.datetime | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._fenced = threading.Event()  # a pass found its leadership stale
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
        """A run was queued (run-now): this process's runner claims it now, and the other
        workers are told (PostgreSQL; on SQLite they find it at their poll)."""
        if self.runner is not None:
            self.runner.wake(execution_id)
        announce_queued(self.db.engine)

    def cancel(self, execution_id: int) -> None:
        """A run was cancelled in the database: stop it now if this process runs it (the
        worker that does reads the flag within a quarter of a second otherwise)."""
        if self.runner is not None:
            self.runner.cancel(execution_id)

    @property
    def is_leader(self) -> bool:
        return self.leading_since is not None

    @property
    def is_running(self) -> bool:
        """This process leads and its scheduler runs."""
        return self.is_leader and bool(self.passes and self.passes.running)

    def running_anywhere(self) -> bool:
        """This process runs the scheduler, or a leader's lease is current."""
        if self.is_leader:
            return self.is_running
        info = self.leader_info()
        if info is None or info["lease_until"] is None:
            return False
        return info["lease_until"] > utcnow()

    def leader_info(self) -> dict[str, Any] | None:
        return leader.read_leader_record(self.db)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start this worker's runner, and try to lead now (so an embedding app has a
        running scheduler on return)."""
        if self._thread is not None:
            return
        self._stop.clear()
        if self.runner is not None:
            self.runner.start()
        self._try_to_lead()
        self._thread = threading.Thread(target=self._loop, name="cronwell-manager", daemon=True)
        self._thread.start()

    def shutdown(self, grace_seconds: float | None = None) -> None:
        """Stop planning fires, let runs finish for the grace time, then step down."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stop_passes()
        if self.runner is not None:
            if grace_seconds is None:
                grace_seconds = self.settings.shutdown_grace_seconds
            self.runner.stop(grace_seconds)
        if self.is_leader:
            self._step_down()

    def _beat_without_runner(self) -> None:
        """An instance that executes nothing (EXECUTE false) still shows in the workers
        table, with capacity 0."""
        labels = dict(self.settings.worker_labels)
        try:
            with self.db.write_connection() as connection:
                claims.renew(
                    connection, self.worker_id, self.lease_seconds, [], 0, labels, self.started_at
                )
        except Exception:
            logger.warning("Could not beat this process's heartbeat", exc_info=True)

    def _try_to_lead(self) -> bool:
        """Lead if this process can; False when the database did not answer."""
        try:
            if self.leadership.take():
                self._take_over()
        except Exception:
            logger.exception("Taking over the scheduler failed; will retry")
            if self.leadership.term is not None:
                self._step_down()
            return False
        return True

    def _take_over(self) -> None:
        self.leading_since = self.leadership.since
        self._fenced.clear()
        self.instruments.leader.set(1)
        store = CronwellJobStore(self.db)
        prefire = self.settings.prefire_seconds
        offer = self.runner.offer if self.runner is not None else None
        run_pass = Pass(
            self.db, store, offer, prefire, self.settings, self.leadership.fence, self._fenced
        )
        self.scheduler = store_scheduler(store)
        self.passes = PassLoop(run_pass)
        self.sync = StoreSync(
            self.db, self.scheduler, store, self.leadership.fence, self.passes.wake
        )
        self.sync.reconcile()
        self.passes.start()
        threading.Thread(
            target=self.sync.check_the_rest, name="cronwell-store-check", daemon=True
        ).start()

    def _step_down(self) -> None:
        """Stop leading at once: the passes, the sender, then the lease and the lock."""
        self._stop_passes()
        self.sender.stop()
        self.leadership.give_up()
        self.leading_since = None
        self.instruments.leader.set(0)
        self.scheduler = self.sync = self.passes = None
        logger.warning("Process stepped down from leading the scheduler")

    def _stop_passes(self) -> None:
        if self.passes is not None:
            self.passes.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def _loop(self) -> None:
        retry = self.settings.leader_retry_seconds
        sync_every = self.settings.sync_interval_seconds
        history_limit = self.settings.history_limit
        renew_every = min(2.0, self.lease_seconds / 3)
        last_beat = last_prune = last_reap = time.monotonic()
        last_renewed = time.monotonic()
        # Lost runs are reaped only once the database has answered for a whole lease:
        # after an outage, every worker gets that long to renew and write its outcomes.
        database_up_since = time.monotonic()
        last_idle_beat = 0.0
        last_audit_prune = -AUDIT_PRUNE_SECONDS  # once on leading, then hourly
        while not self._stop.is_set():
            if self.runner is None and time.monotonic() - last_idle_beat >= renew_every:
                last_idle_beat = time.monotonic()
                self._beat_without_runner()
            if not self.is_leader:
                if self._stop.wait(retry):
                    return
                if not self._try_to_lead():
                    database_up_since = time.monotonic()
                last_renewed = time.monotonic()
                continue
            if self._wake.wait(sync_every) and self._stop.wait(GATHER_SECONDS):
                return
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.monotonic()
            try:
                if self._fenced.is_set():
                    raise leader.StaleLeadership(self.leadership.term)
                if now - last_beat >= renew_every:
                    last_beat = now
                    self.leadership.renew()
                    last_renewed = now
                self.sync.apply_pending()
                if now - last_reap >= REAP_SECONDS:
                    last_reap = now
                    expire_monitors(self.db, self.settings, self.leadership.fence)
                    if now - database_up_since >= self.lease_seconds:
                        reap_lost_runs(self.db, self.settings, self.leadership.fence, self.registry)
                if now - last_prune >= PRUNE_SECONDS:
                    last_prune = now
                    finished = self.runner.take_finished_jobs() if self.runner else set()
                    prune_history(self.db, finished, history_limit, self.leadership.fence)
                if now - last_audit_prune >= AUDIT_PRUNE_SECONDS:
                    last_audit_prune = now
                    retention = self.settings.audit_retention_days
                    prune_audit(self.db, retention, self.leadership.fence)
            except leader.StaleLeadership:
                logger.warning("Another process leads now (leadership %s is stale)",
                               self.leadership.term)  # fmt: skip
                self._step_down()
                continue
            except Exception:
                logger.exception("Scheduler upkeep failed")
                database_up_since = time.monotonic()
                if time.monotonic() - last_renewed > self.lease_seconds:
                    # The lease has ended without a renewal: another process may lead.
                    self._step_down()
                continue
            try:  # on its own: a failure here must not cost a heartbeat
                self.sender.check()
            except Exception:
                logger.exception("Starting the notification sender failed")
