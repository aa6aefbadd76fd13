"""The runner: starts ``queued`` executions at their time, at most MAX_CONCURRENT at once.

The database is the queue of record; the runner keeps a ready heap in memory, ordered by
fire time (``scheduled_at``, then id), and starts each run when its time comes. Rows
reach it two ways: the intake offers the rows it just wrote (fires written up to
PREFIRE_SECONDS ahead, see :mod:`app.scheduler.store`), and a read-only poll finds rows
queued elsewhere (run-now from another worker, a retry, rows left by a previous leader).

Before a run starts, one read checks that its row is still ``queued`` and whether its
job changed since its definition was read (``updated_at``; a batch of the next due rows at
a time, at most VERIFY_SECONDS before the start): a fire withdrawn by a change to its
job's schedule, or a run cancelled or deleted meanwhile, does not start, and a change to
the job's configuration applies (its definition is read again). A scheduled fire of an
``overlap_policy: skip`` job whose previous run is still running is recorded ``skipped``
at that moment.

Starting is in memory; the ``running`` transition and every outcome are written by one
recorder thread in batches (a transaction per batch, never per run), so the write lock
is off the path from fire to run. While the runner is busy starting due runs (a burst),
the recorder holds its writes (at most RECORD_LAG_SECONDS) so that the runs start first.
A crash before a start is written leaves the row ``queued``, and the next leader records
it ``interrupted``. If the start finds the row no longer queued (cancelled in between),
the attempt is stopped through its cancel token.

Handlers run on a pool of worker threads that grows when every worker is busy (so a
handler that ignores its timeout keeps a thread, never a slot). The watchdog does not
wait for a handler at its deadline: it sets the cancel token, records ``timeout`` and
frees the slot. Cancel requests are rows flagged ``cancel_requested`` by any worker,
which the watchdog picks up. The first of the handler and the watchdog to finish an
attempt frees its slot at once.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update

from app.db import Database, utcnow
from app.jobtypes import JobTypeRegistry
from app.jobtypes.base import RunContext, RunResult
from app.models import Execution, Job
from app.scheduler.recording import OutcomeRecord, SkipRecord, StartRecord, record

logger = logging.getLogger("cronwell.runner")
POLL_SECONDS = 0.5
#: A row is checked to be still queued at most this long before its run starts.
VERIFY_SECONDS = 0.1
#: Rows read per check, in slots: about what starts before the check is stale, so a row
#: waiting in a backlog is not read again and again.
VERIFY_BATCH_SLOTS = 4
WATCH_SECONDS = 0.1
CANCEL_POLL_SECONDS = 0.25
#: Longer than any poll's snapshot can be old.
DONE_MEMORY_SECONDS = 60.0
#: How long the recorder may hold its writes while due runs wait for a slot.
RECORD_LAG_SECONDS = 0.5
#: The runner counts as busy starting runs this long after its last start.
BUSY_STARTING_SECONDS = 0.05


@dataclass(frozen=True)
class RunSpec:
    """What starting a queued execution needs: its row and its job's definition."""

    execution_id: int
    scheduled_at: dt.datetime
    attempt: int
    retry_of: int | None
    trigger: str
    job_id: str
    type: str
    configuration: dict
    max_duration_seconds: int
    retry_count: int
    retry_delay_seconds: int
    overlap_policy: str
    updated_at: dt.datetime  # the job's, when this definition was read


#: The job's columns a RunSpec carries (read again by the intake with each fire).
RUN_SPEC_JOB_COLUMNS = (
    Job.type,
    Job.configuration,
    Job.max_duration_seconds,
    Job.retry_count,
    Job.retry_delay_seconds,
    Job.overlap_policy,
    Job.updated_at,
)
#: The columns a RunSpec is read from (executions joined with jobs).
RUN_SPEC_COLUMNS = (
    Execution.id.label("execution_id"),
    Execution.scheduled_at,
    Execution.attempt,
    Execution.retry_of,
    Execution.trigger,
    Execution.job_id,
    *RUN_SPEC_JOB_COLUMNS,
)


#: Rows still queued among ``ids``, with their job's definition.
_QUEUED_SPECS = (
    select(*RUN_SPEC_COLUMNS)
    .join(Job, Job.id == Execution.job_id)
    .where(Execution.id.in_(bindparam("ids", expanding=True)), Execution.status == "queued")
)
#: Rows still queued among ``ids``, with when their job last changed (no definitions).
_STILL_QUEUED = (
    select(Execution.id, Job.updated_at)
    .join(Job, Job.id == Execution.job_id)
    .where(Execution.id.in_(bindparam("ids", expanding=True)), Execution.status == "queued")
)


def _queued_specs(session, ids: list[int]) -> dict[int, RunSpec]:
    """The rows among ``ids`` still ``queued``, with their job's definition as it is now."""
    rows = session.execute(_QUEUED_SPECS, {"ids": ids})
    return {row.execution_id: RunSpec(**row._mapping) for row in rows}


def _still_queued(session, specs: list[RunSpec]) -> dict[int, RunSpec]:
    """Those of ``specs`` whose row is still ``queued``, each with its job's definition
    as it is now: the spec itself when the job has not changed since it was read (every
    change to a job sets its ``updated_at``), else read again."""
    changed_at = dict(
        session.execute(_STILL_QUEUED, {"ids": [spec.execution_id for spec in specs]}).all()
    )
    current: dict[int, RunSpec] = {}
    changed: list[int] = []
    for spec in specs:
        if spec.execution_id not in changed_at:
            continue
        if changed_at[spec.execution_id] == spec.updated_at:
            current[spec.execution_id] = spec
        else:
            changed.append(spec.execution_id)
    if changed:
        current.update(_queued_specs(session, changed))
    return current


@dataclass
class Ready:
    """A queued execution the runner knows of (in the heap as (time, id, Ready))."""

    spec: RunSpec
    verified: float = 0.0  # monotonic time of the last check that the row is queued

    @property
    def execution_id(self) -> int:
        return self.spec.execution_id

    def key(self) -> tuple[dt.datetime, int, Ready]:
        return (self.spec.scheduled_at, self.spec.execution_id, self)


@dataclass
class Pending:
    """A start, an outcome or a skip, waiting for the recorder thread."""

    attempt: Attempt | None
    record: StartRecord | OutcomeRecord | SkipRecord


@dataclass
class Attempt:
    execution_id: int
    job_id: str
    attempt: int
    retry_of: int | None
    started_at: dt.datetime
    started_mono: float
    context: RunContext
    max_duration: int
    retry_count: int
    retry_delay: int
    finished: bool = False
    recorded: threading.Event = field(default_factory=threading.Event, repr=False)
    handler_done: bool = False


class Runner:
    def __init__(self, db: Database, registry: JobTypeRegistry, settings: dict[str, Any]) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.max_concurrent = int(settings.get("MAX_CONCURRENT", 10))
        self._active: dict[int, Attempt] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._ready: list[tuple[dt.datetime, int, Ready]] = []  # a heap, by fire time
        self._known: set[int] = set()  # ids in the ready heap or running here
        # Ids finished here recently (id -> monotonic time): a poll's snapshot may still
        # show them queued, and must not start them again.
        self._done: dict[int, float] = {}
        self._poll_now = threading.Event()
        self._recorder: threading.Thread | None = None
        self._finished_jobs: set[str] = set()  # jobs with new rows, for history pruning
        self._work: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        self._idle_workers = 0
        self._last_start = 0.0  # monotonic time of the last attempt started

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        with self._lock:
            self._ready.clear()
            self._known = set(self._active)
        for target, name in ((self._dispatch_loop, "dispatch"), (self._watch_loop, "watchdog")):
            thread = threading.Thread(target=target, name=f"cronwell-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._recorder = threading.Thread(
            target=self._record_loop, name="cronwell-recorder", daemon=True
        )
        self._recorder.start()

    def stop(self, grace_seconds: float) -> None:
        """Stop starting runs; let running ones finish for ``grace_seconds``; interrupt the rest."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + grace_seconds
        while self.active_count() and time.monotonic() < deadline:
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
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        if self._recorder is not None:  # write every outcome before the process goes
            self._pending.put(None)
            self._recorder.join(timeout=10)
            self._recorder = None

    def wake(self) -> None:
        """Look for queued rows now (a run-now or a change made in this process)."""
        self._poll_now.set()
        self._wake.set()

    def offer(self, specs: list[RunSpec]) -> None:
        """Queued rows, just written or read, to start at their time when a slot is free
        (from the intake or a poll)."""
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

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def active_attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._active.values())

    def request_cancel(self, execution_id: int) -> None:
        """Cancel a running attempt of this process now (other workers use the row flag)."""
        with self._lock:
            attempt = self._active.get(execution_id)
            if attempt is None:
                self._known.discard(execution_id)  # a queued one is skipped at its start
        if attempt is not None:
            self._cancel(attempt)

    # -- starting --------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        last_poll = 0.0
        while not self._stopping.is_set():
            self._wake.wait(self._seconds_to_next_start(POLL_SECONDS))
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if self._poll_now.is_set() or time.monotonic() - last_poll >= POLL_SECONDS:
                    self._poll_now.clear()
                    last_poll = time.monotonic()
                    self._poll_queued()
                while self._start_round():
                    pass
            except Exception:
                logger.exception("Starting queued executions failed")
                time.sleep(POLL_SECONDS)

    def _seconds_to_next_start(self, longest: float) -> float:
        """How long the dispatch loop may sleep: until the next run is due, at most ``longest``."""
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
            specs = _queued_specs(session, new) if new else {}
        self.offer(list(specs.values()))

    def _verify(self) -> None:
        """Re-check the due rows about to start (one read a batch): still queued, and has
        their job changed?

        A row withdrawn (its job rescheduled), cancelled or deleted since it was offered is
        dropped; the others start with the job as it is now (a change to the job's
        configuration or limits applies to a fire already written ahead: its definition is
        read again). Rows checked within VERIFY_SECONDS are not checked again.
        """
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
            current = _still_queued(session, [item.spec for item in stale])
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
        skips: list[RunSpec] = []
        with self._lock:
            free = self.max_concurrent - len(self._active)
            now = utcnow()
            running_jobs = {a.job_id for a in self._active.values()}
            deferred: list[tuple[dt.datetime, int, Ready]] = []
            to_start: list[RunSpec] = []
            while self._ready and len(to_start) < free and self._ready[0][0] <= now:
                entry = heapq.heappop(self._ready)
                item = entry[2]
                if item.execution_id not in self._known:
                    continue  # withdrawn or cancelled while queued
                spec = item.spec
                if spec.overlap_policy == "skip" and spec.job_id in running_jobs:
                    if spec.trigger == "schedule":
                        skips.append(spec)  # a fire while its job still runs: skipped
                    else:
                        deferred.append(entry)  # a retry or run-now waits for its job's run
                    continue
                to_start.append(spec)
                running_jobs.add(spec.job_id)
            for entry in deferred:
                heapq.heappush(self._ready, entry)
        for spec in skips:
            self._pending.put(Pending(None, self._skip_record(spec)))
        for spec in to_start:
            self._start_attempt(spec)
        return bool(to_start) and len(to_start) == free

    def _skip_record(self, spec: RunSpec) -> SkipRecord:
        running = [a.execution_id for a in self.active_attempts() if a.job_id == spec.job_id]
        return SkipRecord(
            execution_id=spec.execution_id,
            finished_at=utcnow(),
            error="Skipped: the previous run "
            f"(execution {running[0] if running else 'unknown'}) was still in progress "
            "and overlap_policy is skip.",
        )

    def _start_attempt(self, spec: RunSpec) -> None:
        context = RunContext(
            job_id=spec.job_id,
            execution_id=spec.execution_id,
            job_type=spec.type,
            configuration=spec.configuration or {},
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
        )
        with self._lock:
            self._active[spec.execution_id] = attempt
            self._last_start = attempt.started_mono
            spawn = self._idle_workers == 0
            if not spawn:
                self._idle_workers -= 1  # that worker takes this attempt (or an equal one)
        self._pending.put(Pending(attempt, StartRecord(spec.execution_id, attempt.started_at)))
        self._work.put(attempt)
        if spawn:
            threading.Thread(target=self._work_loop, name="cronwell-run", daemon=True).start()

    def _work_loop(self) -> None:
        """A worker thread: runs attempts, one at a time, for the life of the process."""
        while True:
            attempt = self._work.get()
            try:
                self._run_attempt(attempt)
            finally:
                attempt.handler_done = True
                with self._lock:
                    self._idle_workers += 1

    def _run_attempt(self, attempt: Attempt) -> None:
        try:
            job_type = self.registry.types.get(attempt.context.job_type)
            if job_type is None:
                raise LookupError(f"Job type {attempt.context.job_type!r} is not registered.")
            result = job_type.run(attempt.context)
        except Exception as exc:
            logger.exception("Execution %d of job %r raised", attempt.execution_id, attempt.job_id)
            result = RunResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        status = "success" if result.ok else "failed"
        if attempt.context.remaining() <= 0:
            # The handler saw its deadline before the watchdog did: still a timeout.
            status, result.error = "timeout", self._timeout_message(attempt)
        if not self.finish(attempt, status, result):
            self._attach_late_output(attempt, result)

    # -- finishing -------------------------------------------------------------------

    def finish(self, attempt: Attempt, status: str, result: RunResult) -> bool:
        """Record the attempt's outcome once; False if it was already finished.

        The slot is free on return; the row is written by the recorder thread.
        """
        with self._lock:
            if attempt.finished:
                return False
            attempt.finished = True
            self._active.pop(attempt.execution_id, None)
            # Still "known" until its outcome is written: until then the row may read
            # as queued, and a poll must not offer it again.
        finished_at = utcnow()
        retry_at = None
        if status in ("failed", "timeout") and attempt.attempt <= attempt.retry_count:
            delay = attempt.retry_delay * 2 ** (attempt.attempt - 1)
            retry_at = finished_at + dt.timedelta(seconds=delay)
        outcome = OutcomeRecord(
            execution_id=attempt.execution_id,
            job_id=attempt.job_id,
            status=status,
            started_at=attempt.started_at,
            finished_at=finished_at,
            duration_ms=int((time.monotonic() - attempt.started_mono) * 1000),
            result=result.result or None,
            output=result.output,
            output_truncated=result.output_truncated,
            error=result.error,
            retry_at=retry_at,
            attempt=attempt.attempt,
            retry_of=attempt.retry_of,
        )
        self._pending.put(Pending(attempt, outcome))
        self._wake.set()
        return True

    def _forget(self, execution_id: int) -> None:
        """Its outcome is written (call with the lock held): remember it as done."""
        self._known.discard(execution_id)
        self._done[execution_id] = time.monotonic()

    def _record_loop(self) -> None:
        while True:
            first = self._pending.get()
            if first is not None:
                self._yield_to_starts()
            batch = [first] if first is not None else []
            while first is not None and len(batch) < 1000:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    first = None
                    break
                batch.append(item)
            if batch:
                self._record_batch(batch)
            if first is None:
                return

    def _yield_to_starts(self) -> None:
        """While the runner is busy starting due runs (a burst), let them start before
        writing: the recorder's work would take the GIL from the run threads, and the
        batch written after is bigger and cheaper a row. At most RECORD_LAG_SECONDS; not
        at all when due runs wait on slots held by long runs (nothing starts then)."""
        give_up = time.monotonic() + RECORD_LAG_SECONDS
        while time.monotonic() < give_up and not self._stopping.is_set():
            with self._lock:
                waiting = bool(self._ready) and self._ready[0][0] <= utcnow()
                starting = time.monotonic() - self._last_start < BUSY_STARTING_SECONDS
            if not (waiting and starting):
                return
            time.sleep(0.005)

    def _record_batch(self, batch: list[Pending]) -> None:
        lost: set[int] = set()
        for attempt_no in range(10):
            try:
                with self.db.write_connection() as connection:
                    lost = record(connection, [p.record for p in batch])
                break
            except Exception:
                logger.exception(
                    "Recording %d run change(s) failed (try %d)", len(batch), attempt_no + 1
                )
                time.sleep(min(0.05 * 2**attempt_no, 2))
        for pending in batch:
            attempt = pending.attempt
            if attempt is None:  # a skip
                with self._lock:
                    self._forget(pending.record.execution_id)
                continue
            if isinstance(pending.record, StartRecord):
                if attempt.execution_id in lost:  # cancelled before its start was written
                    attempt.context.cancel()
                    with self._lock:
                        attempt.finished = True
                        self._active.pop(attempt.execution_id, None)
                        self._forget(attempt.execution_id)
                    attempt.recorded.set()
                continue
            with self._lock:
                self._forget(attempt.execution_id)
                self._finished_jobs.add(attempt.job_id)
            attempt.recorded.set()

    def _attach_late_output(self, attempt: Attempt, result: RunResult) -> None:
        """A handler that returned after its timeout or cancel: keep what it reported."""
        row = Execution.id == attempt.execution_id
        # Only after the finishing write: it would otherwise overwrite what we add.
        attempt.recorded.wait(timeout=10)
        try:
            with self.db.write() as session:
                if result.output:
                    session.execute(
                        update(Execution)
                        .where(row, Execution.output.is_(None))
                        .values(output=result.output, output_truncated=result.output_truncated)
                    )
                if result.result:
                    session.execute(
                        update(Execution)
                        .where(row, Execution.result.is_(None))
                        .values(result=result.result)
                    )
        except Exception:
            logger.exception("Could not attach late output to %d", attempt.execution_id)

    # -- watchdog: deadlines and cancel requests ------------------------------------

    def _cancel(self, attempt: Attempt) -> None:
        attempt.context.cancel()
        self.finish(attempt, "cancelled", RunResult(ok=False, error="Cancelled on request."))

    @staticmethod
    def _timeout_message(attempt: Attempt) -> str:
        return f"Timed out after max_duration_seconds={attempt.max_duration}."

    def _watch_loop(self) -> None:
        last_cancel_poll = 0.0
        while not self._stopping.is_set():
            time.sleep(WATCH_SECONDS)
            attempts = self.active_attempts()
            if not attempts:
                continue
            now = time.monotonic()
            for attempt in attempts:
                if now >= attempt.context.deadline:
                    attempt.context.cancel()
                    self.finish(
                        attempt,
                        "timeout",
                        RunResult(ok=False, error=self._timeout_message(attempt)),
                    )
            if now - last_cancel_poll >= CANCEL_POLL_SECONDS:
                last_cancel_poll = now
                self._poll_cancel_requests()

    def _poll_cancel_requests(self) -> None:
        ids = [a.execution_id for a in self.active_attempts()]
        if not ids:
            return
        try:
            with self.db.read() as session:
                flagged = session.scalars(
                    select(Execution.id).where(
                        Execution.id.in_(ids), Execution.cancel_requested.is_(True)
                    )
                ).all()
        except Exception:
            logger.exception("Polling cancel requests failed")
            return
        for execution_id in flagged:
            self.request_cancel(execution_id)
