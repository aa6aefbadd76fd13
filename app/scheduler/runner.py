"""The runner: this worker's one loop that owns a run's life, from its claim to its outcome.

The loop owns the due runs it knows of (a ready heap, by start time), the attempts
running here and their leases. Nothing else touches them: the pass, the services, the
handlers' threads, the recorder and the listener *post events* to its inbox
(:class:`Offered`, :class:`Woken`, :class:`PollSoon`, :class:`CancelAsked`,
:class:`HandlerDone`, :class:`Written`, :class:`Stop`), and the loop acts on them in
order. Between events it keeps its own clock: a start due, a deadline, a lease renewal,
a poll of the queue, a look for cancel requests.

1. **Knowing** (:mod:`app.scheduler.due`). Rows reach the heap from the pass (in the
   leading process), from a read by id (a run-now or a chained run queued here), and from
   a read-only poll of the queue every POLL_SECONDS (anything queued anywhere; on
   PostgreSQL a NOTIFY from another worker brings the poll forward,
   :mod:`app.scheduler.wakeups`). A row whose ``run_on`` this worker's labels do not
   match is left to the others.
2. **Claiming.** When a row's time comes, one read checks whether its job changed since
   its definition was read (``updated_at``), then one UPDATE claims the due rows that fit
   the free slots, naming this worker and a lease (:func:`app.scheduler.claims.claim`).
   Only the rows that statement returns start.
3. **Running.** Each attempt goes to a worker thread (:mod:`app.scheduler.workers`), which
   posts :class:`HandlerDone` when its handler returns.
4. **Ending.** The first of the handler, the deadline, a cancel request or a lost lease
   decides the outcome; the slot frees at once and the outcome goes to the recorder
   (:mod:`app.scheduler.recorder`), which writes it while the row is still this worker's,
   and keeps it until the database takes it. What a handler reports after its attempt
   was ended (its output) follows as a :class:`~app.scheduler.stages.LateOutputRecord`.
5. **Leases.** Every third of CRONWELL_LEASE_SECONDS the loop renews the leases of its
   running attempts. One the database no longer gives it (the leader recorded it
   ``interrupted``) is stopped; so are all of them when no renewal got through for a whole
   lease: this worker is cut off, and the others will take its runs over.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import select

from app.db import Database, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.jobtypes.base import RunContext, RunResult
from app.logs import run_fields
from app.models import FAILED_STATUSES, Execution
from app.scheduler import claims
from app.scheduler.due import VERIFY_BATCH_SLOTS, DueRuns
from app.scheduler.inbox import (
    CancelAsked,
    Event,
    HandlerDone,
    Offered,
    PollSoon,
    Stop,
    Woken,
    Written,
)
from app.scheduler.recorder import Entry, Recorder
from app.scheduler.stages import LateOutputRecord, OutcomeRecord, RunSpec, StartRecord
from app.scheduler.wakeups import Listener
from app.scheduler.workers import Attempt, Workers, outcome_of

logger = logging.getLogger("cronwell.runner")
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
        settings: dict[str, Any],
        instruments: Instruments,
        worker: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.instruments = instruments
        self.worker = worker
        self.lease_seconds = float(settings.get("LEASE_SECONDS", 30))
        self.renew_seconds = min(2.0, self.lease_seconds / 3)
        self.labels = dict(settings.get("WORKER_LABELS") or {})
        self.max_concurrent = int(settings.get("MAX_CONCURRENT", 10))
        self.poll_seconds = float(settings.get("POLL_SECONDS", 0.5))
        self.started_at = utcnow()
        self._inbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.recorder = Recorder(db, settings, worker, self._post_written, self.wake)
        self.workers = Workers(registry, self._post_done)
        self.listener = Listener(db.engine, self.poll_soon)
        self._thread: threading.Thread | None = None
        # Jobs that finished runs, for the leader's history pruning (its thread drains it).
        self._finished_jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
        # -- owned by the loop's thread alone ----------------------------------------
        self._due = DueRuns(db, self.labels, VERIFY_BATCH_SLOTS * self.max_concurrent)
        self._active: dict[int, Attempt] = {}
        # Attempts ended from outside (deadline, cancel, lost lease, shutdown) whose
        # handlers have not returned yet.
        self._outside_ended: dict[int, Attempt] = {}
        self._poll_now = False
        self._stopping_by: float | None = None  # monotonic: interrupt what runs then
        self._claim_retry_at = 0.0  # no claim before (the database was away)
        self._deferred_until = 0.0  # no claim before, unless a run ends here
        self._renewed_mono = time.monotonic()  # the last renewal that got through
        self._next = {"poll": 0.0, "renew": 0.0, "cancels": 0.0}

    # -- what other threads call: each posts an event ---------------------------------

    def start(self) -> None:
        self.recorder.start()
        self.listener.start()
        self._thread = threading.Thread(target=self._loop, name="cronwell-runner", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float) -> None:
        """Start nothing more; let running attempts finish for ``grace_seconds``, record
        the rest ``interrupted``, write every outcome, and leave the workers table."""
        self._inbox.put(Stop(grace_seconds))
        if self._thread is not None:
            self._thread.join(timeout=grace_seconds + 5)
            self._thread = None
        self.listener.stop()
        self.recorder.stop()  # every outcome written before the process goes
        self.leave()

    def offer(self, specs: list[RunSpec]) -> None:
        self._inbox.put(Offered(specs))

    def wake(self, *execution_ids: int) -> None:
        self._inbox.put(Woken(execution_ids))

    def poll_soon(self) -> None:
        self._inbox.put(PollSoon())

    def cancel(self, execution_id: int) -> None:
        self._inbox.put(CancelAsked(execution_id))

    def take_finished_jobs(self) -> set[str]:
        """The jobs that finished runs since the last call (to prune their history)."""
        jobs: set[str] = set()
        while True:
            try:
                jobs.add(self._finished_jobs.get_nowait())
            except queue.Empty:
                return jobs

    def _post_done(self, attempt: Attempt, status: str, result: RunResult) -> None:
        self._inbox.put(HandlerDone(attempt, status, result))

    def _post_written(self, entries: list[Entry]) -> None:
        self._inbox.put(Written(entries))

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
        if isinstance(event, Offered):
            self._due.add(event.specs)
        elif isinstance(event, Woken):
            self._due.queued_here(event.execution_ids)
        elif isinstance(event, PollSoon):
            self._poll_now = True
        elif isinstance(event, CancelAsked):
            attempt = self._active.get(event.execution_id)
            if attempt is not None:
                self._end(attempt, "cancelled", "Cancelled on request.")
            else:
                self._due.discard(event.execution_id)  # a queued one is not claimed
        elif isinstance(event, HandlerDone):
            self._handler_done(event)
        elif isinstance(event, Written):
            for entry in event.entries:
                self._due.forget(entry.record.execution_id)
                if isinstance(entry.record, OutcomeRecord):
                    self._finished_jobs.put(entry.record.job_id)
        elif isinstance(event, Stop):
            self._stopping_by = time.monotonic() + event.grace

    def _tend(self, *, claiming: bool) -> None:
        """The loop's own duties, each when its time has come (while stopping, only those
        of the attempts still running)."""
        mono = time.monotonic()
        self._enforce_deadlines(mono)
        if mono >= self._next["renew"]:
            self._next["renew"] = mono + self.renew_seconds
            self._renew_leases()
        if self._active and mono >= self._next["cancels"]:
            self._next["cancels"] = mono + CANCEL_POLL_SECONDS
            self._read_cancel_requests()
        if not claiming:
            return
        if self._poll_now or mono >= self._next["poll"]:
            self._poll_now = False
            self._next["poll"] = mono + self.poll_seconds
            self._due.poll(utcnow() + dt.timedelta(seconds=self.poll_seconds))
        self._due.read_queued_here()
        while self._start_round():
            pass

    def _seconds_to_wait(self) -> float:
        """Until the next thing the loop must do by itself."""
        mono = time.monotonic()
        if self._stopping_by is not None:
            return 0.05
        times = [self._next["poll"], self._next["renew"]]
        if self._active:
            times.append(self._next["cancels"])
            times.append(min(a.context.deadline for a in self._active.values()))
        head = self._due.next_start()
        if head is not None and len(self._active) < self.max_concurrent:
            start = mono + (head - utcnow()).total_seconds()
            times.append(max(start, self._claim_retry_at, self._deferred_until))
        return min(IDLE_SECONDS, max(0.0, min(times) - mono))

    def _stopped(self) -> bool:
        """While stopping: once nothing runs (or the grace time is over, when the rest is
        interrupted and its handlers get a moment to act on their cancel), True."""
        assert self._stopping_by is not None
        if self._active and time.monotonic() >= self._stopping_by:
            for attempt in list(self._active.values()):
                self._end(attempt, "interrupted", "The service shut down before the run finished.")
            self._stopping_by = time.monotonic()
        if self._active:
            return False
        return not self._outside_ended or time.monotonic() > self._stopping_by + 2

    # -- claiming -------------------------------------------------------------------------

    def _start_round(self) -> bool:
        """Claim and start what fits in the free slots, in start order; True if the
        round used every free slot (the loop goes on at once)."""
        if time.monotonic() < max(self._claim_retry_at, self._deferred_until):
            return False
        self._due.verify()
        free = self.max_concurrent - len(self._active)
        picked = self._due.pop_due(free, utcnow())
        if not picked:
            return False
        specs = [entry[2].spec for entry in picked]
        try:
            with self.db.write_connection() as connection:
                claimed = claims.claim(
                    connection, self.worker, self.lease_seconds, specs, self.settings
                )
        except Exception:
            # Once with the traceback: while the database is away this repeats.
            logger.warning("Claiming %d queued execution(s) failed; no run starts until "
                           "the database answers", len(specs),
                           exc_info=time.monotonic() >= self._claim_retry_at + 60)  # fmt: skip
            self._claim_retry_at = time.monotonic() + CLAIM_RETRY_SECONDS
            for entry in picked:
                self._due.put_back(entry)
            return False
        if claimed.settled.queued:
            self._due.queued_here(claimed.settled.queued)
        if claimed.deferred and not claimed.started:
            self._deferred_until = time.monotonic() + DEFERRED_RETRY_SECONDS
        for entry in picked:
            spec = entry[2].spec
            started_at = claimed.started.get(spec.execution_id)
            if started_at is not None:
                self._start(spec, started_at)
            elif spec.execution_id in claimed.deferred:
                self._due.put_back(entry)  # waits for its job's running run or its group
            else:
                self._due.forget(spec.execution_id)  # another's, skipped, missed or gone
        return len(picked) == free and not claimed.deferred

    def _start(self, spec: RunSpec, started_at: dt.datetime) -> None:
        """Start a claimed run on a worker thread."""
        context = RunContext(
            job_id=spec.job_id,
            execution_id=spec.execution_id,
            job_type=spec.type,
            configuration={**(spec.configuration or {}), **(spec.configuration_overrides or {})},
            deadline=time.monotonic() + spec.max_duration_seconds,
            settings=self.settings,
            worker=self.worker,
        )
        attempt = Attempt(
            execution_id=spec.execution_id,
            job_id=spec.job_id,
            attempt=spec.attempt,
            retry_of=spec.retry_of,
            started_at=started_at,
            started_mono=time.monotonic(),
            context=context,
            max_duration=spec.max_duration_seconds,
            retry_count=spec.retry_count,
            retry_delay=spec.retry_delay_seconds,
            configuration_overrides=spec.configuration_overrides,
        )
        self._active[spec.execution_id] = attempt
        # The claim wrote the start: the recorder only follows the run's output.
        self.recorder.submit(StartRecord(spec.execution_id, started_at), attempt)
        if spec.trigger == "schedule":
            lateness = (started_at - spec.scheduled_at).total_seconds()
            self.instruments.lateness.observe(max(lateness, 0.0))
        self.workers.run(attempt)

    # -- leases, deadlines and cancels -----------------------------------------------------

    def _renew_leases(self) -> None:
        attempts = list(self._active.values())
        try:
            with self.db.write_connection() as connection:
                held = claims.renew(
                    connection, self.worker, self.lease_seconds,
                    [a.execution_id for a in attempts], self.max_concurrent, self.labels,
                    self.started_at,
                )  # fmt: skip
        except Exception:
            logger.warning("Renewing this worker's leases failed", exc_info=True)
            if time.monotonic() - self._renewed_mono < self.lease_seconds:
                return
            lost = attempts
            reason = "This worker could not reach the database for a whole lease."
        else:
            self._renewed_mono = time.monotonic()
            lost = [a for a in attempts if a.execution_id not in held]
            reason = "This worker's lease on the run ended; it was recorded elsewhere."
        for attempt in lost:
            logger.warning("Stopping execution %d: %s", attempt.execution_id, reason)
            self._end(attempt, "interrupted", reason)

    def _enforce_deadlines(self, mono: float) -> None:
        for attempt in list(self._active.values()):
            if mono >= attempt.context.deadline:
                self._end(attempt, "timeout", attempt.timeout_message())

    def _read_cancel_requests(self) -> None:
        try:
            with self.db.read() as session:
                flagged = session.scalars(
                    select(Execution.id).where(
                        Execution.id.in_(list(self._active)), Execution.cancel_requested
                    )
                ).all()
        except Exception:
            logger.warning("Reading cancel requests failed", exc_info=True)
            return
        for execution_id in flagged:
            attempt = self._active.get(execution_id)
            if attempt is not None:
                self._end(attempt, "cancelled", "Cancelled on request.")

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
