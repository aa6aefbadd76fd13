"""The runner: this worker's one loop that owns a run's life, from its claim to its outcome.

The loop owns what is due, the attempts claimed here and their leases. The pass, the
services, the handlers' threads, the recorder and the listener post events to its inbox
(:mod:`app.scheduler.inbox`); its database work (claims, renewals, reads) runs on one I/O
thread whose answers come back as events too, so a write waiting for the database never
holds up a start. docs/design.md draws the whole path.

1. **When** (:mod:`app.scheduler.due`): the earliest start of a queued run it has heard
   of (the pass, a run queued here, another worker's NOTIFY, a poll of the queue's head).
2. **Claiming**: PRECLAIM_SECONDS before that, one transaction claims the due runs that
   fit the free slots (:func:`app.scheduler.claims.claim_due`: the database chooses them,
   one UPDATE names this worker and a lease). Each waits in memory for its start time.
3. **Running**: each attempt on a worker thread (:mod:`app.scheduler.workers`), which
   posts :class:`~app.scheduler.inbox.HandlerDone` when its handler returns.
4. **Ending**: the first of the handler, the deadline, a cancel request or a lost lease
   decides the outcome; the slot frees at once, and the recorder writes it while the row
   is still this worker's (:mod:`app.scheduler.recorder`).
5. **Leases**: renewed every third of CRONWELL_LEASE_SECONDS. A run the database no longer
   gives this worker is stopped; all are, when no renewal got through for a whole lease.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import queue
import threading
import time
from typing import Any

from app.config import Settings
from app.db import Database, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.jobtypes.base import RunResult
from app.logs import run_fields
from app.scheduler import claims, inbox
from app.scheduler.due import DueHint
from app.scheduler.inbox import Event, HandlerDone, IoDone, IoThread
from app.scheduler.leases import Leases
from app.scheduler.recorder import Entry, Recorder
from app.scheduler.stages import (
    LateOutputRecord,
    OutcomeRecord,
    Queued,
    RunSpec,
    SlowRecord,
    StartRecord,
)
from app.scheduler.wakeups import Listener
from app.scheduler.workers import Attempt, Workers, outcome_of
from app.statuses import FAILED_STATUSES, Status, Trigger

logger = logging.getLogger("cronwell.runner")
#: Runs due within this long are claimed together, and each starts at its own time: one
#: write claims a second's share of a steady load, not one write a run.
PRECLAIM_SECONDS = 0.1
#: After a claim failed (the database is away), the wait before the next try.
CLAIM_RETRY_SECONDS = 0.5
#: After a claim that could start none of the due rows (each waits for its job's running
#: run or its concurrency group), the wait before the next try; a finish here ends it.
DEFERRED_RETRY_SECONDS = 0.2
#: How often the flags of cancel requests made in other processes are read.
CANCEL_POLL_SECONDS = 0.25
#: The longest the loop sleeps with nothing to do.
IDLE_SECONDS = 1.0


class Runner:
    def __init__(
        self,
        db: Database,
        registry: JobTypeRegistry,
        settings: Settings,
        instruments: Instruments,
        worker: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.instruments = instruments
        self.worker = worker
        self.max_concurrent = settings.max_concurrent
        self.poll_seconds = settings.poll_seconds
        self.leases = Leases(db, settings, worker, utcnow())
        self._inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.recorder = Recorder(db, settings, worker, self._post_written, self.wake)
        self.workers = Workers(registry, self._post_done)
        self.listener = Listener(db.engine, self.poll_soon)
        self._thread: threading.Thread | None = None
        # Jobs that finished runs, for the leader's history pruning (its thread drains it).
        self._finished_jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
        # -- owned by the loop's thread alone ----------------------------------------
        self._due = DueHint(db)
        # Claimed runs waiting for their start (claimed up to PRECLAIM_SECONDS ahead): a
        # heap of (monotonic start, id); their attempts are in _active already.
        self._waiting: list[tuple[float, int]] = []
        # The loop's database work runs on one I/O thread, so that a write waiting for the
        # database never holds up a start that is due; results come back as IoDone.
        self._io = IoThread(self._inbox.put)
        self._in_flight: set[str] = set()
        self._reserved = 0  # slots an in-flight claim may fill
        self._active: dict[int, Attempt] = {}
        # Attempts ended from outside (deadline, cancel, lost lease, shutdown) whose
        # handlers have not returned yet.
        self._outside_ended: dict[int, Attempt] = {}
        self._poll_now = False
        self._stopping_by: float | None = None  # monotonic: interrupt what runs then
        self._claim_retry_at = 0.0  # no claim before (the database was away)
        self._deferred_until = 0.0  # no claim before, unless a run ends here
        self._next = {"poll": 0.0, "renew": 0.0, "cancels": 0.0}

    # -- what other threads call: each posts an event ---------------------------------

    def start(self) -> None:
        self.recorder.start()
        self.listener.start()
        self._io.start()
        self._thread = threading.Thread(target=self._loop, name="cronwell-runner", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float) -> None:
        """Start nothing more; let running attempts finish for ``grace_seconds``, record
        the rest ``interrupted``, write every outcome, and leave the workers table."""
        self._inbox.put(inbox.Stop(grace_seconds))
        if self._thread is not None:
            self._thread.join(timeout=grace_seconds + 5)
            self._thread = None
        self._io.stop()
        self.listener.stop()
        self.recorder.stop()  # every outcome written before the process goes
        self.leave()

    def offer(self, queued: list[Queued]) -> None:
        self._inbox.put(inbox.Offered(queued))

    def wake(self, *execution_ids: int) -> None:
        self._inbox.put(inbox.Woken(execution_ids))

    def poll_soon(self) -> None:
        self._inbox.put(inbox.PollSoon())

    def cancel(self, execution_id: int) -> None:
        self._inbox.put(inbox.CancelAsked(execution_id))

    def take_finished_jobs(self) -> set[str]:
        """The jobs that finished runs since the last call (to prune their history)."""
        jobs: set[str] = set()
        while True:
            try:
                jobs.add(self._finished_jobs.get_nowait())
            except queue.Empty:
                return jobs

    def _submit(self, tag: str, call: Any, context: Any = None) -> None:
        """Run ``call`` on the I/O thread (one of each tag at a time)."""
        self._in_flight.add(tag)
        self._io.submit(tag, call, context)

    def _post_done(self, attempt: Attempt, status: str, result: RunResult) -> None:
        self._inbox.put(HandlerDone(attempt, status, result))

    def _post_written(self, entries: list[Entry]) -> None:
        self._inbox.put(inbox.Written(entries))

    # -- the loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                events = [self._inbox.get(timeout=self._seconds_to_wait())]
            except queue.Empty:
                events = []
            while True:
                try:
                    events.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                for event in events:
                    self._handle(event)
                if self._stopping_by is not None and self._stopped():
                    return
                self._tend(claiming=self._stopping_by is None)
            except Exception:
                logger.exception("The runner's loop failed a turn; it goes on")
                time.sleep(CLAIM_RETRY_SECONDS)

    def _handle(self, event: Event) -> None:
        if isinstance(event, inbox.Offered):
            self._due.heard(run.starts_at for run in event.queued)
        elif isinstance(event, inbox.Woken):
            self._due.heard([utcnow()])
        elif isinstance(event, inbox.PollSoon):
            self._poll_now = True
        elif isinstance(event, inbox.CancelAsked):
            attempt = self._active.get(event.execution_id)
            if attempt is not None:
                self._end(attempt, Status.CANCELLED, "Cancelled on request.")
            # else: a queued row cancelled in the database is not claimed
        elif isinstance(event, HandlerDone):
            self._handler_done(event)
        elif isinstance(event, inbox.Written):
            for entry in event.entries:
                if isinstance(entry.record, OutcomeRecord):
                    self._finished_jobs.put(entry.record.job_id)
        elif isinstance(event, inbox.Stop):
            self._stopping_by = time.monotonic() + event.grace
        elif isinstance(event, IoDone):
            self._in_flight.discard(event.tag)
            {
                "claim": self._claimed_all,
                "renew": self._renewed,
                "cancels": self._cancels_read,
                "poll": self._polled,
            }[event.tag](event)

    def _tend(self, *, claiming: bool) -> None:
        """The loop's own duties, each when its time has come (while stopping, only those
        of the attempts still running)."""
        mono = time.monotonic()
        self._enforce_deadlines(mono)
        self._start_waiting(mono)
        if mono >= self._next["renew"] and "renew" not in self._in_flight:
            self._next["renew"] = mono + self.leases.renew_seconds
            self._renew_leases()
        if self._active and mono >= self._next["cancels"] and "cancels" not in self._in_flight:
            self._next["cancels"] = mono + CANCEL_POLL_SECONDS
            ids = list(self._active)
            self._submit("cancels", lambda: self._flagged(ids))
        if not claiming:
            return
        if (self._poll_now or mono >= self._next["poll"]) and "poll" not in self._in_flight:
            self._poll_now = False
            self._next["poll"] = mono + self.poll_seconds
            self._submit("poll", self._due.read_head)
        self._claim_round()

    def _seconds_to_wait(self) -> float:
        """Until the next thing the loop must do by itself."""
        mono = time.monotonic()
        if self._stopping_by is not None:
            return 0.05
        times = [self._next["poll"], self._next["renew"]]
        if self._active:
            times.append(self._next["cancels"])
            times.append(min(a.context.deadline for a in self._active.values()))
            times.extend(a.slow_at for a in self._active.values() if a.slow_at is not None)
        if self._waiting:
            times.append(self._waiting[0][0])
        head = self._due.next_start
        free = self.max_concurrent - len(self._active) - self._reserved
        if head is not None and free > 0 and "claim" not in self._in_flight:
            claim_at = mono + (head - utcnow()).total_seconds() - PRECLAIM_SECONDS
            times.append(max(claim_at, self._claim_retry_at, self._deferred_until))
        return min(IDLE_SECONDS, max(0.0, min(times) - mono))

    def _stopped(self) -> bool:
        """While stopping: once nothing runs (or the grace time is over, when the rest is
        interrupted and its handlers get a moment to act on their cancel), True."""
        assert self._stopping_by is not None
        if self._active and time.monotonic() >= self._stopping_by:
            for attempt in list(self._active.values()):
                self._end(
                    attempt, Status.INTERRUPTED, "The service shut down before the run finished."
                )
            self._stopping_by = time.monotonic()
        if self._active or "claim" in self._in_flight:
            return False
        return not self._outside_ended or time.monotonic() > self._stopping_by + 2

    # -- claiming -------------------------------------------------------------------------

    def _claim_round(self) -> None:
        """Claim, on the I/O thread, the runs due within PRECLAIM_SECONDS that fit the
        free slots (the database chooses them); the slots are held until it answers."""
        free = self.max_concurrent - len(self._active) - self._reserved
        head = self._due.next_start
        now = utcnow()
        horizon = now + dt.timedelta(seconds=PRECLAIM_SECONDS)
        if free <= 0 or head is None or head > horizon or "claim" in self._in_flight:
            return
        if time.monotonic() < max(self._claim_retry_at, self._deferred_until):
            return

        leases = self.leases

        def claim() -> claims.Claimed:
            with self.db.write_connection() as connection:
                return claims.claim_due(
                    connection, self.worker, leases.lease_seconds, free, horizon, leases.labels,
                    self.settings,
                )  # fmt: skip

        self._reserved = free
        self._submit("claim", claim, (horizon, now))

    def _claimed_all(self, done: IoDone) -> None:
        self._reserved = 0
        if done.error is not None:
            # Once with the traceback: while the database is away this repeats.
            logger.warning("Claiming queued executions failed; no run starts until the "
                           "database answers", exc_info=done.error
                           if time.monotonic() >= self._claim_retry_at + 60 else None)  # fmt: skip
            self._claim_retry_at = time.monotonic() + CLAIM_RETRY_SECONDS
            return
        claimed: claims.Claimed = done.result
        horizon, now = done.context
        self._due.claimed(horizon, claimed.more, now)
        if claimed.settled.queued:
            self._due.heard([now])  # chained runs of skipped rows
        if claimed.deferred and not claimed.started:
            self._deferred_until = time.monotonic() + DEFERRED_RETRY_SECONDS
        for spec in claimed.specs:
            self._claimed(spec, claimed.started[spec.execution_id])
        self._start_waiting(time.monotonic())

    def _claimed(self, spec: RunSpec, started_at: dt.datetime) -> None:
        """A claimed run: its attempt holds a slot now, and starts at ``started_at``."""
        start_mono = time.monotonic() + max(0.0, (started_at - utcnow()).total_seconds())
        attempt = Attempt.claimed(spec, started_at, start_mono, self.worker, self.settings)
        self._active[spec.execution_id] = attempt
        heapq.heappush(self._waiting, (start_mono, spec.execution_id))
        if spec.trigger == Trigger.SCHEDULE:
            lateness = (started_at - spec.scheduled_at).total_seconds()
            self.instruments.lateness.observe(max(lateness, 0.0))

    def _start_waiting(self, mono: float) -> None:
        """Hand the claimed runs whose time has come to worker threads."""
        while self._waiting and self._waiting[0][0] <= mono:
            _, execution_id = heapq.heappop(self._waiting)
            attempt = self._active.get(execution_id)
            if attempt is None:  # ended before its start (cancelled, a lost lease)
                self._outside_ended.pop(execution_id, None)  # no handler will report
                continue
            # The claim wrote the start: the recorder only follows the run's output.
            self.recorder.submit(StartRecord(execution_id, attempt.started_at), attempt)
            self.workers.run(attempt)

    # -- leases, deadlines and cancels -----------------------------------------------------

    def _renew_leases(self) -> None:
        ids = list(self._active)
        self._submit("renew", self.leases.renewal(ids), ids)

    def _renewed(self, done: IoDone) -> None:
        """Stop the runs the renewal's answer takes from this worker."""
        if done.error is not None:
            logger.warning("Renewing this worker's leases failed: %s", done.error)
        lost, reason = self.leases.lost(done, self._active)
        for attempt in lost:
            logger.warning("Stopping execution %d: %s", attempt.execution_id, reason)
            self._end(attempt, Status.INTERRUPTED, reason)

    def _enforce_deadlines(self, mono: float) -> None:
        for attempt in list(self._active.values()):
            if mono >= attempt.context.deadline:
                self._end(attempt, Status.TIMEOUT, attempt.timeout_message())
            elif attempt.slow_at is not None and mono >= attempt.slow_at:
                attempt.slow_at = None  # said once; the run goes on
                self.recorder.submit(SlowRecord(attempt.execution_id, attempt.job_id))

    def _flagged(self, ids: list[int]) -> list[int]:
        """Those of ``ids`` that another process asked to cancel (on the I/O thread)."""
        with self.db.read() as session:
            return claims.cancel_requested(session.connection(), ids)

    def _cancels_read(self, done: IoDone) -> None:
        if done.error is not None:
            logger.warning("Reading cancel requests failed: %s", done.error)
            return
        for execution_id in done.result:
            attempt = self._active.get(execution_id)
            if attempt is not None:
                self._end(attempt, Status.CANCELLED, "Cancelled on request.")

    def _polled(self, done: IoDone) -> None:
        if done.error is not None:
            logger.warning("Reading the queue failed: %s", done.error)
            return
        self._due.polled(done.result)

    def leave(self) -> None:
        """Take this worker out of the workers table (a clean stop)."""
        try:
            with self.db.write_connection() as connection:
                claims.leave(connection, self.worker)
        except Exception:
            logger.warning("Could not remove worker %s from the workers table", self.worker)

    # -- ending ----------------------------------------------------------------------------

    def _end(self, attempt: Attempt, status: str, error: str) -> None:
        """End an attempt from outside its handler: decide its outcome, then cancel it
        (the handler, woken by the cancel, reports after the outcome is decided)."""
        self._finish(attempt, status, RunResult(ok=False, error=error))
        self._outside_ended[attempt.execution_id] = attempt
        attempt.context.cancel()

    def _handler_done(self, event: HandlerDone) -> None:
        attempt, result = event.attempt, event.result
        ended = self._outside_ended.pop(attempt.execution_id, None)
        if ended is None:
            self._finish(attempt, event.status, result)
        elif result.output or result.result:
            # It returned after its deadline or cancel: keep what it reported.
            self.recorder.submit(
                LateOutputRecord(
                    attempt.execution_id, result.output, result.output_truncated, result.result
                )
            )

    def _finish(self, attempt: Attempt, status: str, result: RunResult) -> None:
        """Decide the attempt's outcome: the slot is free on return, and the recorder
        writes the row."""
        self._active.pop(attempt.execution_id, None)
        self._deferred_until = 0.0  # a slot, and maybe a job or group, is free again
        # Still "known" until its outcome is written: until then the row may read as
        # running, and a poll must not offer it again.
        outcome = outcome_of(attempt, status, result)
        self.recorder.submit(outcome, attempt)
        self.instruments.duration.labels(attempt.context.job_type).observe(
            outcome.duration_ms / 1000
        )
        log = logger.warning if status in FAILED_STATUSES else logger.info
        log(
            "Execution %d of job %r: %s in %d ms%s", attempt.execution_id, attempt.job_id,
            status, outcome.duration_ms, f" ({result.error})" if result.error else "",
            extra=run_fields(attempt.job_id, attempt.execution_id),
        )  # fmt: skip
