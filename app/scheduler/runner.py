"""The runner: starts ``queued`` executions at their time, at most MAX_CONCURRENT at once.

The database is the queue of record; the runner keeps a ready heap in memory, ordered by
fire time (``scheduled_at``, then id), and starts each run when its time comes. Rows
reach it two ways: the pass offers the rows it just wrote (fires written up to
PREFIRE_SECONDS ahead, see :mod:`app.scheduler.passes`), and a read-only poll finds rows
queued elsewhere (run-now from another worker, a retry, rows left by a previous leader).

Before a run starts, one read checks that its row is still ``queued`` and whether its
job changed since its definition was read (``updated_at``; a batch of the next due rows at
a time, at most VERIFY_SECONDS before the start): a fire withdrawn by a change to its
job's schedule, or a run cancelled or deleted meanwhile, does not start, and a change to
the job's configuration applies (its definition is read again). A scheduled fire of an
``overlap_policy: skip`` job whose previous run is still running is recorded ``skipped``
at that moment.

Starting is in memory: the attempt goes to a worker thread (:mod:`app.scheduler.workers`)
and its ``running`` transition to the recorder (:mod:`app.scheduler.recorder`), which
writes it with the next batch. The first of the handler and the watchdog
(:mod:`app.scheduler.watchdog`) to finish an attempt frees its slot at once and hands the
outcome to the recorder. If the start finds the row no longer queued (cancelled in
between), the attempt is stopped through its cancel token.
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
from app.scheduler.intake import VERIFY_SECONDS, queued_specs, still_queued
from app.scheduler.recorder import Entry, Recorder, attach_late_output
from app.scheduler.stages import OutcomeRecord, RunSpec, SkipRecord, StartRecord
from app.scheduler.watchdog import Watchdog
from app.scheduler.workers import Attempt, Workers

logger = logging.getLogger("cronwell.runner")
POLL_SECONDS = 0.5
#: Rows read per check, in slots: about what starts before the check is stale, so a row
#: waiting in a backlog is not read again and again.
VERIFY_BATCH_SLOTS = 4
#: Longer than any poll's snapshot can be old.
DONE_MEMORY_SECONDS = 60.0


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
    ) -> None:
        self.db = db
        self.settings = settings
        self.instruments = instruments
        self.max_concurrent = int(settings.get("MAX_CONCURRENT", 10))
        self.recorder = Recorder(db, settings, self._written, self.wake)
        self.workers = Workers(registry, self._handler_done)
        self.watchdog = Watchdog(db, self)
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

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        with self._lock:
            self._ready.clear()
            self._known = set(self._active)
        self.recorder.start()
        self.watchdog.start()
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
            attempt.context.cancel()
            self.finish(
                attempt,
                "interrupted",
                RunResult(ok=False, error="The service shut down before the run finished."),
            )
        # Give handlers a moment to act on the token (a shell run kills its group).
        handlers_deadline = time.monotonic() + 2
        while time.monotonic() < handlers_deadline and not all(a.handler_done for a in leftovers):
            time.sleep(0.02)
        self.watchdog.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.recorder.stop()  # every outcome written before the process goes

    def wake(self, *execution_ids: int) -> None:
        """Rows were queued in this process (a run-now, chained runs): read them now, and
        only them, instead of waiting for the next poll."""
        with self._lock:
            self._queued_here.update(execution_ids)
        self._wake.set()

    def offer(self, specs: list[RunSpec]) -> None:
        """Queued rows, just written or read, to start at their time when a slot is free
        (from the pass or a poll)."""
        checked = time.monotonic()
        with self._lock:
            for spec in specs:
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
            attempt.context.cancel()
            self.finish(attempt, "cancelled", RunResult(ok=False, error="Cancelled on request."))

    # -- starting --------------------------------------------------------------------

    def _loop(self) -> None:
        last_poll = 0.0
        while not self._stopping.is_set():
            self._wake.wait(self._seconds_to_next_start(POLL_SECONDS))
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if time.monotonic() - last_poll >= POLL_SECONDS:
                    last_poll = time.monotonic()
                    self._poll_queued()
                self._read_queued_here()
                while self._start_round():
                    pass
            except Exception:
                logger.exception("Starting queued executions failed")
                time.sleep(POLL_SECONDS)

    def _seconds_to_next_start(self, longest: float) -> float:
        """How long the loop may sleep: until the next run is due, at most ``longest``."""
        with self._lock:
            if not self._ready or len(self._active) >= self.max_concurrent:
                return longest
            head = self._ready[0][0]
        seconds = (head - utcnow()).total_seconds()
        # A due head that did not start waits for its job's run (a finish wakes us);
        # look again soon anyway.
        return min(longest, seconds if seconds > 0 else 0.01)

    def _poll_queued(self) -> None:
        """Add queued rows due soon that this runner does not know yet (read-only)."""
        horizon = utcnow() + dt.timedelta(seconds=POLL_SECONDS)
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
                if spec is not None:
                    item.spec, item.verified = spec, mono
                else:
                    self._known.discard(item.execution_id)  # skipped when popped

    def _start_round(self) -> bool:
        """Start what fits in the free slots, in fire order; True if it filled them."""
        self._verify()
        skips: list[tuple[RunSpec, int | None]] = []
        with self._lock:
            free = self.max_concurrent - len(self._active)
            now = utcnow()
            running = {a.job_id: a.execution_id for a in self._active.values()}
            deferred: list[tuple[dt.datetime, int, Ready]] = []
            to_start: list[RunSpec] = []
            while self._ready and len(to_start) < free and self._ready[0][0] <= now:
                entry = heapq.heappop(self._ready)
                spec = entry[2].spec
                if spec.execution_id not in self._known:
                    continue  # withdrawn or cancelled while queued
                if spec.overlap_policy == "skip" and spec.job_id in running:
                    if spec.trigger in ("schedule", "chain"):  # its job still runs
                        skips.append((spec, running[spec.job_id]))
                    else:
                        deferred.append(entry)  # a retry or run-now waits for its job's run
                    continue
                to_start.append(spec)
                running[spec.job_id] = spec.execution_id
            for entry in deferred:
                heapq.heappush(self._ready, entry)
        for spec, running_id in skips:
            self.recorder.submit(
                SkipRecord(
                    execution_id=spec.execution_id,
                    job_id=spec.job_id,
                    finished_at=utcnow(),
                    error=f"Skipped: the previous run (execution {running_id}) was still in "
                    "progress and overlap_policy is skip.",
                )
            )
        for spec in to_start:
            self._start(spec)
        return bool(to_start) and len(to_start) == free

    def _start(self, spec: RunSpec) -> None:
        context = RunContext(
            job_id=spec.job_id,
            execution_id=spec.execution_id,
            job_type=spec.type,
            configuration={**(spec.configuration or {}), **(spec.configuration_overrides or {})},
            deadline=time.monotonic() + spec.max_duration_seconds,
            settings=self.settings,
        )
        attempt = Attempt(
            execution_id=spec.execution_id,
            job_id=spec.job_id,
            attempt=spec.attempt,
            retry_of=spec.retry_of,
            started_at=utcnow(),
            started_mono=time.monotonic(),
            context=context,
            max_duration=spec.max_duration_seconds,
            retry_count=spec.retry_count,
            retry_delay=spec.retry_delay_seconds,
            configuration_overrides=spec.configuration_overrides,
        )
        with self._lock:
            self._active[spec.execution_id] = attempt
        self.recorder.submit(StartRecord(spec.execution_id, attempt.started_at), attempt)
        if spec.trigger == "schedule":
            lateness = (attempt.started_at - spec.scheduled_at).total_seconds()
            self.instruments.lateness.observe(max(lateness, 0.0))
        self.workers.run(attempt)

    # -- finishing -------------------------------------------------------------------

    def _handler_done(self, attempt: Attempt, status: str, result: RunResult) -> None:
        if not self.finish(attempt, status, result) and (result.output or result.result):
            # A handler that returned after its timeout or cancel: keep what it reported,
            # once the finishing write is done (it would overwrite what is added).
            attempt.recorded.wait(timeout=10)
            attach_late_output(self.db, attempt.execution_id, result)

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
            delay = attempt.retry_delay * 2 ** (attempt.attempt - 1)
            retry_at = finished_at + dt.timedelta(seconds=delay)
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

    def _written(self, entries: list[Entry], lost: set[int]) -> None:
        """The recorder wrote ``entries``; ``lost``: starts whose row was no longer queued."""
        with self._lock:
            for entry in entries:
                record, attempt = entry.record, entry.attempt
                if isinstance(record, StartRecord):
                    if record.execution_id in lost:  # cancelled before its start was written
                        attempt.finished = True
                        self._active.pop(record.execution_id, None)
                        self._forget(record.execution_id)
                    continue
                self._forget(record.execution_id)
                if isinstance(record, OutcomeRecord):
                    self._finished_jobs.add(record.job_id)
        for entry in entries:
            record, attempt = entry.record, entry.attempt
            if attempt is None:
                continue  # a skip
            if not isinstance(record, StartRecord):
                attempt.recorded.set()
            elif record.execution_id in lost:
                attempt.context.cancel()
                attempt.recorded.set()

    def _forget(self, execution_id: int) -> None:
        """Its outcome is written (call with the lock held): remember it as done."""
        self._known.discard(execution_id)
        self._done[execution_id] = time.monotonic()
