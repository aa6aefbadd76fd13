"""The runner: this worker's loop that claims due ``queued`` executions and runs them,
at most MAX_CONCURRENT at once.

The database is the queue of record; the runner keeps a ready heap in memory, ordered by
start time (``start_after`` or ``scheduled_at``, then id). Rows reach it two ways: the
pass offers the rows it just wrote (in the leading process), and a read-only poll finds
rows queued anywhere (fires planned by the leader, run-now from another worker, retries,
chained runs).

**A run starts only after its claim.** When a row's time comes, the runner claims it:
one UPDATE takes it from ``queued`` to ``running``, naming this worker and a lease
(:func:`app.scheduler.claims.claim`). Only the rows that statement returns start; a row
another worker took first, or one withdrawn or cancelled meanwhile, starts nothing here.
Before a claim, one read checks whether a row's job changed since its definition was read
(``updated_at``) and reads it again if so.

The watchdog (:mod:`app.scheduler.watchdog`) renews the leases of the runs going on here
every third of CRONWELL_LEASE_SECONDS. A run the database no longer gives this worker
(the leader recorded it ``interrupted`` after its lease ended) is stopped; so are all of
them when no renewal got through for a whole lease (this worker is cut off, and the
others will take its runs over).

The attempt goes to a worker thread (:mod:`app.scheduler.workers`); the first of the
handler and the watchdog to finish it frees its slot at once and hands the outcome to
the recorder (:mod:`app.scheduler.recorder`), which writes it, guarded by this worker's
claim, and keeps it until the database takes it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.db import Database, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.jobtypes.base import RunContext, RunResult
from app.logs import run_fields
from app.models import FAILED_STATUSES, Execution
from app.scheduler import claims
from app.scheduler.intake import VERIFY_SECONDS, queued_specs, still_queued
from app.scheduler.recorder import Entry, Recorder, attach_late_output, next_retry_at
from app.scheduler.stages import OutcomeRecord, RunSpec, StartRecord
from app.scheduler.wakeups import Listener
from app.scheduler.watchdog import Watchdog
from app.scheduler.workers import Attempt, Workers

logger = logging.getLogger("cronwell.runner")
#: Rows read per check, in slots: about what starts before the check is stale, so a row
#: waiting in a backlog is not read again and again.
VERIFY_BATCH_SLOTS = 4
#: Longer than any poll's snapshot can be old.
DONE_MEMORY_SECONDS = 60.0
#: After a claim failed (the database is away), the wait before the next try.
CLAIM_RETRY_SECONDS = 0.5
#: After a claim that could start none of the due rows (each waits for its job's running
#: run or its concurrency group), the wait before the next try; a finish here wakes the
#: loop sooner.
DEFERRED_RETRY_SECONDS = 0.2


@dataclass
class Ready:
    """A queued execution the runner knows of (in the heap as (time, id, Ready))."""

    spec: RunSpec
    verified: float = 0.0  # monotonic time of the last check that the row is queued

    @property
    def execution_id(self) -> int:
        return self.spec.execution_id

    def key(self) -> tuple[dt.datetime, int, Ready]:
        return (self.spec.starts_at, self.spec.execution_id, self)


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
        self.labels = dict(settings.get("WORKER_LABELS") or {})
        self.max_concurrent = int(settings.get("MAX_CONCURRENT", 10))
        self.poll_seconds = float(settings.get("POLL_SECONDS", 0.5))
        self.recorder = Recorder(db, settings, worker, self._written, self.wake)
        self.workers = Workers(registry, self._handler_done)
        self.watchdog = Watchdog(db, self, renew_seconds=min(2.0, self.lease_seconds / 3))
        self.listener = Listener(db.engine, self.poll_soon)
        self._active: dict[int, Attempt] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._queued_here: set[int] = set()  # ids queued in this process, to read now
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready: list[tuple[dt.datetime, int, Ready]] = []  # a heap, by fire time
        self._known: set[int] = set()  # ids in the ready heap or running here
        # Ids finished here recently (id -> monotonic time): a poll's snapshot may still
        # show them queued, and must not start them again.
        self._done: dict[int, float] = {}
        self._finished_jobs: set[str] = set()  # jobs with new rows, for history pruning
        self._poll_now = False  # poll at the next turn (a wake-up from another worker)
        self._claim_retry_at = 0.0  # monotonic: no claim before (the database was away)
        self._deferred_until = 0.0  # no claim before, unless a run ends here (all waited)
        self.started_at = utcnow()
        self._renewed_mono = time.monotonic()  # the last renewal that got through

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        with self._lock:
            self._ready.clear()
            self._known = set(self._active)
        self.recorder.start()
        self.watchdog.start()
        self.listener.start()
        self._thread = threading.Thread(target=self._loop, name="cronwell-runner", daemon=True)
        self._thread.start()

    def stop(self, grace_seconds: float) -> None:
        """Stop starting runs; let running ones finish for ``grace_seconds``; interrupt the rest."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + grace_seconds
        while self.active_attempts() and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = self.active_attempts()
        for attempt in leftovers:
            self.stop_attempt(
                attempt, "interrupted", "The service shut down before the run finished."
            )
        # Give handlers a moment to act on the token (a shell run kills its group).
        handlers_deadline = time.monotonic() + 2
        while time.monotonic() < handlers_deadline and not all(a.handler_done for a in leftovers):
            time.sleep(0.02)
        self.watchdog.stop()
        self.listener.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.recorder.stop()  # every outcome written before the process goes
        self.leave()

    def wake(self, *execution_ids: int) -> None:
        """Rows were queued in this process (a run-now, chained runs): read them now, and
        only them, instead of waiting for the next poll."""
        with self._lock:
            self._queued_here.update(execution_ids)
        self._wake.set()

    def poll_soon(self) -> None:
        """Another worker queued a run for now: poll the queue at once."""
        self._poll_now = True
        self._wake.set()

    def offer(self, specs: list[RunSpec]) -> None:
        """Queued rows, just written or read, to start at their time when a slot is free
        (from the pass or a poll)."""
        checked = time.monotonic()
        with self._lock:
            for spec in specs:
                if not spec.runs_on(self.labels):
                    # Another worker's to run: not read again for a while.
                    self._done[spec.execution_id] = checked
                    continue
                if spec.execution_id not in self._known and spec.execution_id not in self._done:
                    self._known.add(spec.execution_id)
                    heapq.heappush(self._ready, Ready(spec, checked).key())
        self._wake.set()

    def take_finished_jobs(self) -> set[str]:
        """The jobs that finished runs since the last call (to prune their history)."""
        with self._lock:
            jobs, self._finished_jobs = self._finished_jobs, set()
        return jobs

    def active_attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._active.values())

    def cancel(self, execution_id: int) -> None:
        """Cancel a run of this process now: a queued one does not start, a running one is
        stopped (other workers flag the row, which the watchdog picks up)."""
        with self._lock:
            attempt = self._active.get(execution_id)
            if attempt is None:
                self._known.discard(execution_id)  # a queued one is skipped at its start
        if attempt is not None:
            self.stop_attempt(attempt, "cancelled", "Cancelled on request.")

    # -- starting --------------------------------------------------------------------

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._stopping.is_set():
            self._wake.wait(self._seconds_to_next_start(self.poll_seconds))
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if self._poll_now or time.monotonic() - last_poll >= self.poll_seconds:
                    self._poll_now = False
                    last_poll = time.monotonic()
                    self._poll_queued()
                self._read_queued_here()
                while self._start_round():
                    pass
            except Exception:
                logger.exception("Starting queued executions failed")
                time.sleep(CLAIM_RETRY_SECONDS)

    def _seconds_to_next_start(self, longest: float) -> float:
        """How long the loop may sleep: until the next run is due, at most ``longest``."""
        with self._lock:
            if not self._ready or len(self._active) >= self.max_concurrent:
                return longest
            head = self._ready[0][0]
        seconds = (head - utcnow()).total_seconds()
        # A due head that did not start waits for its job's run or its group (a finish
        # here wakes us); look again soon anyway.
        seconds = max(seconds, max(self._claim_retry_at, self._deferred_until) - time.monotonic())
        return min(longest, seconds if seconds > 0 else 0.01)

    def _poll_queued(self) -> None:
        """Add queued rows due soon that this runner does not know yet (read-only)."""
        horizon = utcnow() + dt.timedelta(seconds=self.poll_seconds)
        with self.db.read() as session:
            ids = session.scalars(
                select(Execution.id)
                .where(Execution.status == "queued", Execution.scheduled_at <= horizon)
                .order_by(Execution.scheduled_at, Execution.id)
                .limit(5000)
            ).all()
            with self._lock:
                cutoff = time.monotonic() - DONE_MEMORY_SECONDS
                self._done = {i: t for i, t in self._done.items() if t > cutoff}
                new = [i for i in ids if i not in self._known and i not in self._done]
            # Definitions only for rows not known yet (most are, in a burst).
            specs = queued_specs(session, new) if new else {}
        self.offer(list(specs.values()))

    def _read_queued_here(self) -> None:
        """Offer the rows :meth:`wake` named (one read by id, not a poll of the queue)."""
        with self._lock:
            ids, self._queued_here = self._queued_here - self._known, set()
        if ids:
            with self.db.read() as session:
                self.offer(list(queued_specs(session, sorted(ids)).values()))

    def _verify(self) -> None:
        """Re-check the due rows about to start (one read a batch): still queued, and has
        their job changed? A row withdrawn, cancelled or deleted since it was offered is
        dropped; the others start with the job as it is now. Rows checked within
        VERIFY_SECONDS are not checked again."""
        mono = time.monotonic()
        with self._lock:
            soon = utcnow() + dt.timedelta(seconds=VERIFY_SECONDS)
            if not self._ready:
                return
            head = self._ready[0]
            if head[0] > soon or head[2].verified >= mono - VERIFY_SECONDS:
                return  # the next run to start was read just now (or is not due yet)
            stale = [
                item
                for when, _, item in heapq.nsmallest(
                    VERIFY_BATCH_SLOTS * self.max_concurrent, self._ready
                )
                if when <= soon and item.verified < mono - VERIFY_SECONDS
            ]
        if not stale:
            return
        with self.db.read() as session:
            current = still_queued(session, [item.spec for item in stale])
        with self._lock:
            for item in stale:
                spec = current.get(item.execution_id)
                if spec is not None and spec.runs_on(self.labels):
                    item.spec, item.verified = spec, mono
                else:
                    self._known.discard(item.execution_id)  # skipped when popped

    def _start_round(self) -> bool:
        """Claim and start what fits in the free slots, in start order; True if the
        round used every free slot (the loop goes on at once)."""
        if time.monotonic() < max(self._claim_retry_at, self._deferred_until):
            return False
        self._verify()
        with self._lock:
            free = self.max_concurrent - len(self._active)
            now = utcnow()
            picked: list[tuple[dt.datetime, int, Ready]] = []
            while self._ready and len(picked) < free and self._ready[0][0] <= now:
                entry = heapq.heappop(self._ready)
                if entry[2].execution_id in self._known:
                    picked.append(entry)  # else: withdrawn or cancelled while queued
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
            with self._lock:
                for entry in picked:
                    heapq.heappush(self._ready, entry)
            return False
        if claimed.settled.queued:
            self.wake(*claimed.settled.queued)
        if claimed.deferred and not claimed.started:
            self._deferred_until = time.monotonic() + DEFERRED_RETRY_SECONDS
        with self._lock:
            for entry in picked:
                execution_id = entry[2].execution_id
                if execution_id in claimed.deferred:
                    heapq.heappush(self._ready, entry)  # waits for its job's running run
                elif execution_id not in claimed.started:
                    self._forget(execution_id)  # another worker's, skipped, missed or gone
        for spec in specs:
            started_at = claimed.started.get(spec.execution_id)
            if started_at is not None:
                self._start(spec, started_at)
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
        with self._lock:
            self._active[spec.execution_id] = attempt
        # The claim wrote the start: the recorder only follows the run's output.
        self.recorder.submit(StartRecord(spec.execution_id, started_at), attempt)
        if spec.trigger == "schedule":
            lateness = (started_at - spec.scheduled_at).total_seconds()
            self.instruments.lateness.observe(max(lateness, 0.0))
        self.workers.run(attempt)

    # -- leases ----------------------------------------------------------------------

    def renew_leases(self) -> None:
        """Extend the leases of the runs going on here and beat this worker's heartbeat
        (the watchdog calls this every third of a lease). Stop the runs the database no
        longer gives this worker; stop them all when no renewal got through for a whole
        lease: the leader records them ``interrupted`` and their retries run elsewhere."""
        attempts = self.active_attempts()
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
            if attempt.finished:
                continue
            logger.warning("Stopping execution %d: %s", attempt.execution_id, reason)
            self.stop_attempt(attempt, "interrupted", reason)

    def leave(self) -> None:
        """Take this worker out of the workers table (a clean stop)."""
        try:
            with self.db.write_connection() as connection:
                claims.leave(connection, self.worker)
        except Exception:
            logger.warning("Could not remove worker %s from the workers table", self.worker)

    # -- finishing -------------------------------------------------------------------

    def _handler_done(self, attempt: Attempt, status: str, result: RunResult) -> None:
        if not self.finish(attempt, status, result) and (result.output or result.result):
            # A handler that returned after its timeout or cancel: keep what it reported,
            # once the finishing write is done (it would overwrite what is added).
            attempt.recorded.wait(timeout=10)
            attach_late_output(self.db, attempt.execution_id, result)

    def stop_attempt(self, attempt: Attempt, status: str, error: str) -> None:
        """End an attempt from outside its handler: decide its outcome first (so the
        handler, woken by the cancel, cannot record its own), then cancel it."""
        self.finish(attempt, status, RunResult(ok=False, error=error))
        attempt.context.cancel()

    def finish(self, attempt: Attempt, status: str, result: RunResult) -> bool:
        """Decide the attempt's outcome once; False if it was already decided.

        The slot is free on return; the row is written by the recorder thread.
        """
        with self._lock:
            if attempt.finished:
                return False
            attempt.finished = True
            self._active.pop(attempt.execution_id, None)
            # Still "known" until its outcome is written: until then the row may read
            # as queued or running, and a poll must not offer it again.
        finished_at = utcnow()
        retry_at = None
        if status in ("failed", "timeout") and attempt.attempt <= attempt.retry_count:
            retry_at = next_retry_at(finished_at, attempt.retry_delay, attempt.attempt)
        output, truncated = result.output, result.output_truncated
        if output is None:
            # A handler still running (timed out, cancelled) has reported nothing yet:
            # what it printed so far stands until it returns (attach_late_output).
            _, live, truncated = attempt.context.output.snapshot()
            output = live or None
        outcome = OutcomeRecord(
            execution_id=attempt.execution_id,
            job_id=attempt.job_id,
            status=status,
            started_at=attempt.started_at,
            finished_at=finished_at,
            duration_ms=int((time.monotonic() - attempt.started_mono) * 1000),
            result=result.result or None,
            output=output,
            output_truncated=truncated,
            error=result.error,
            retry_at=retry_at,
            attempt=attempt.attempt,
            retry_of=attempt.retry_of,
            configuration_overrides=attempt.configuration_overrides,
        )
        self.recorder.submit(outcome, attempt)
        self._deferred_until = 0.0  # a slot, and maybe a job or group, is free again
        self._wake.set()
        self.instruments.duration.labels(attempt.context.job_type).observe(
            outcome.duration_ms / 1000
        )
        log = logger.warning if status in FAILED_STATUSES else logger.info
        log(
            "Execution %d of job %r: %s in %d ms%s", attempt.execution_id, attempt.job_id,
            status, outcome.duration_ms, f" ({result.error})" if result.error else "",
            extra=run_fields(attempt.job_id, attempt.execution_id),
        )  # fmt: skip
        return True

    def _written(self, entries: list[Entry]) -> None:
        """The recorder wrote the outcomes in ``entries`` (or found them no longer this
        worker's to write)."""
        with self._lock:
            for entry in entries:
                self._forget(entry.record.execution_id)
                if isinstance(entry.record, OutcomeRecord):
                    self._finished_jobs.add(entry.record.job_id)
        for entry in entries:
            if entry.attempt is not None:
                entry.attempt.recorded.set()

    def _forget(self, execution_id: int) -> None:
        """Its outcome is written (call with the lock held): remember it as done."""
        self._known.discard(execution_id)
        self._done[execution_id] = time.monotonic()
