"""The recorder: one thread that writes run outcomes in batches, as they come.

The runner and its workers hand it a record for every outcome (and a start, which the
claim has already written, so that it follows the run's output). The thread takes
whatever has come since its last write and writes it in one transaction with a handful
of set-based statements (:func:`record`), whatever its size: per-row ORM work was the
bottleneck of a burst. Each row is guarded: an outcome applies only to a row that is
``running`` *and still this worker's* (claimed by it, not recorded ``interrupted``
elsewhere after its lease ended).

**No outcome is dropped.** A batch the database refuses (it is away, or locked) is
tried again, with a growing pause, until it is written: the records wait in memory.
They are few: a worker whose database is away claims no new runs, so at most
MAX_CONCURRENT outcomes wait.

A running attempt's output is written along the way: while any attempt that streams its
output (``shell``) runs, the thread wakes every :data:`LIVE_OUTPUT_SECONDS` and adds what
changed to its batch, one UPDATE for all of them, never a write per line.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from app.config import Settings
from app.core.finals import JOB_OUTCOME, Final, Settled, counter_deltas, mark_slow, settle
from app.db import Database
from app.models import Execution, Job
from app.outputs import OutputTail
from app.scheduler.stages import (
    LateOutputRecord,
    OutputRecord,
    Record,
    SlowRecord,
    StartRecord,
)
from app.statuses import ACTIVE_STATUSES, Status, Trigger

logger = logging.getLogger("cronwell.recorder")
#: Records written in one transaction at most.
BATCH_LIMIT = 1000
#: How often a running attempt's output is written while it changes (it is at most
#: about this old, plus a write, when read).
LIVE_OUTPUT_SECONDS = 0.5

executions = Execution.__table__
jobs = Job.__table__
# A batch's statements are built once, every value a parameter (building a statement and
# its cache key costs about what running it does, under the write lock).
_ROW = executions.c.id == bindparam("b_id")
#: The batch's rows, as they are (PostgreSQL: locked, so the reaper cannot end them in
#: between).
_STATES = (
    select(executions.c.id, executions.c.status, executions.c.worker)
    .where(executions.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update()
)
#: A running attempt's output so far, while the row is still this worker's.
_LIVE_OUTPUT = (
    update(executions)
    .where(_ROW, executions.c.status == Status.RUNNING, executions.c.worker == bindparam("b_me"))
    .values(output=bindparam("b_output"), output_truncated=bindparam("b_output_truncated"))
)
#: An attempt's outcome (its row was read ``running`` and this worker's, locked).
_OUTCOME = (
    update(executions)
    .where(_ROW)
    .values(
        status=bindparam("b_status"),
        finished_at=bindparam("b_finished_at"),
        duration_ms=bindparam("b_duration_ms"),
        result=bindparam("b_result"),
        output=bindparam("b_output"),
        output_truncated=bindparam("b_output_truncated"),
        error=bindparam("b_error"),
    )
)


def record(connection: Connection, items: list[Record], settings: Settings, worker: str) -> Settled:
    """Write a batch of ``worker``'s records in order; return what the final rows brought
    with them (:mod:`app.core.finals`)."""
    items = [item for item in items if not isinstance(item, StartRecord)]  # claimed
    if not items:
        return Settled()
    ids = sorted({item.execution_id for item in items})
    rows = connection.execute(_STATES, {"ids": ids}).all()
    state = {row.id: row.status for row in rows}
    # A running row is ours to finish only while our claim stands.
    for row in rows:
        if row.status == Status.RUNNING and row.worker != worker:
            state[row.id] = "another worker's"
    outcomes: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    retries: list[dict[str, Any]] = []
    per_job: dict[str, dict[str, Any]] = {}
    finals: list[Final] = []
    late: list[LateOutputRecord] = []
    slow: list[tuple[int, str]] = []
    for item in items:
        current = state.get(item.execution_id)
        if isinstance(item, LateOutputRecord):
            late.append(item)  # written after the outcomes: it adds to them
            continue
        if isinstance(item, SlowRecord):
            if current == Status.RUNNING:
                slow.append((item.execution_id, item.job_id))
            continue
        if isinstance(item, OutputRecord):
            if current == Status.RUNNING:
                outputs.append(
                    {
                        "b_id": item.execution_id,
                        "b_me": worker,
                        "b_output": item.output,
                        "b_output_truncated": item.output_truncated,
                    }
                )
            continue
        if current != Status.RUNNING:
            # Already final (cancelled; interrupted when its lease ended) or another's.
            logger.warning("Outcome %s of execution %d not written: the row is %s",
                           item.status, item.execution_id, current)  # fmt: skip
            continue
        state[item.execution_id] = item.status
        finals.append(Final(item.execution_id, item.job_id, item.status, item.retry_at is not None))
        outcomes.append(
            {
                "b_id": item.execution_id,
                "b_status": item.status,
                "b_finished_at": item.finished_at,
                "b_duration_ms": item.duration_ms,
                "b_result": item.result or None,
                "b_output": item.output,
                "b_output_truncated": item.output_truncated,
                "b_error": item.error,
            }
        )
        runs, successes, failures = counter_deltas(item.status)
        job = per_job.setdefault(
            item.job_id,
            {
                "b_job": item.job_id,
                "b_runs": 0,
                "b_ok": 0,
                "b_failed": 0,
                "b_last_success_at": None,
                "b_last_failure_at": None,
            },
        )
        job["b_runs"] += runs
        job["b_ok"] += successes
        job["b_failed"] += failures
        job.update(
            b_last_run_at=item.started_at,
            b_last_status=item.status,
            b_last_duration_ms=item.duration_ms,
            b_last_error=item.error,
        )
        if successes:
            job["b_last_success_at"] = item.finished_at
        if failures:
            job["b_last_failure_at"] = item.finished_at
        if item.retry_at is not None:
            retries.append(
                retry_row(
                    item.job_id, item.attempt, item.retry_of or item.execution_id,
                    item.retry_at, item.finished_at, item.configuration_overrides,
                )
            )  # fmt: skip
    # Slow first: a run that went slow and then ended in the same batch is still running.
    told = mark_slow(connection, slow, settings)
    if outputs:
        connection.execute(_LIVE_OUTPUT, outputs)
    if outcomes:
        connection.execute(_OUTCOME, outcomes)
    if per_job:
        connection.execute(JOB_OUTCOME, list(per_job.values()))
    if retries:
        connection.execute(insert(executions), retries)
    ours = (executions.c.worker == worker, executions.c.status.not_in(ACTIVE_STATUSES))
    for item in late:
        row = executions.c.id == item.execution_id
        if item.output:
            connection.execute(
                update(executions)
                .where(row, *ours)
                .values(output=item.output, output_truncated=item.output_truncated)
            )
        if item.result:
            connection.execute(
                update(executions)
                .where(row, *ours, executions.c.result.is_(None))
                .values(result=item.result)
            )
    settled = settle(connection, finals, settings)
    return Settled(settled.notifications + told, settled.queued) if told else settled


def next_retry_at(finished_at: dt.datetime, first_delay_seconds: int, attempt: int) -> dt.datetime:
    """When the retry after ``attempt`` is due: the first delay, doubling each retry."""
    return finished_at + dt.timedelta(seconds=first_delay_seconds * 2 ** (attempt - 1))


def retry_row(
    job_id: str,
    attempt: int,
    first_id: int,
    due_at: dt.datetime,
    created_at: dt.datetime,
    configuration_overrides: dict | None,
) -> dict[str, Any]:
    """The queued row of the retry after ``attempt`` (its run-now overrides kept)."""
    return {
        "job_id": job_id,
        "status": Status.QUEUED,
        "trigger": Trigger.RETRY,
        "attempt": attempt + 1,
        "retry_of": first_id,
        "scheduled_at": due_at,
        "created_at": created_at,
        "output_truncated": False,
        "cancel_requested": False,
        "configuration_overrides": configuration_overrides,
    }


@dataclass(frozen=True)
class Entry:
    """A record with what it is about: the attempt (a start or an outcome), or None (live
    or late output)."""

    record: Record
    attempt: Any = None


class Recorder:
    """The thread that writes ``worker``'s records; ``on_written(entries)`` is called
    after each batch, and ``on_queued(*ids)`` with the chained runs the batch's outcomes
    queued."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker: str,
        on_written: Callable[[list[Entry]], None],
        on_queued: Callable[..., None],
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker
        self._stopping_by: float | None = None  # monotonic deadline, once stopping
        self.on_written = on_written
        self.on_queued = on_queued
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Running attempts' output (read by this thread only): execution id -> (its tail,
        # the version last written).
        self._live: dict[int, tuple[OutputTail, int]] = {}
        self._next_output = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cronwell-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Write every record handed in so far (trying for ``timeout`` seconds while the
        database is away), then end the thread."""
        if self._thread is not None:
            self._stopping_by = time.monotonic() + timeout
            self._queue.put(None)
            self._thread.join(timeout=timeout + 1)
            self._thread = None

    def submit(self, record: Record, attempt: Any = None) -> None:
        self._queue.put(Entry(record, attempt))

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=LIVE_OUTPUT_SECONDS if self._live else None)
            except queue.Empty:
                first = ()
            batch = [first] if isinstance(first, Entry) else []
            ending = first is None
            while not ending and len(batch) < BATCH_LIMIT:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    ending = True
                else:
                    batch.append(entry)
            # Starts were written by their claim: only follow their output.
            starts = [entry for entry in batch if isinstance(entry.record, StartRecord)]
            rest = [entry for entry in batch if not isinstance(entry.record, StartRecord)]
            self._follow(starts)
            self._follow(rest)
            outputs = self._changed_outputs()
            if rest or outputs:
                self._write(rest + outputs)
                if rest:
                    self.on_written(rest)
            if ending:
                return

    def _follow(self, entries: list[Entry]) -> None:
        """Start following the output of attempts that started; stop with their outcome."""
        for entry in entries:
            execution_id = entry.record.execution_id
            if isinstance(entry.record, StartRecord):
                if entry.attempt is not None:
                    self._live[execution_id] = (entry.attempt.context.output, 0)
            else:
                self._live.pop(execution_id, None)

    def _changed_outputs(self) -> list[Entry]:
        """An OutputRecord for each followed attempt that printed since its last write,
        at most every LIVE_OUTPUT_SECONDS."""
        now = time.monotonic()
        if not self._live or now < self._next_output:
            return []
        self._next_output = now + LIVE_OUTPUT_SECONDS
        changed = []
        for execution_id, (tail, written) in list(self._live.items()):
            if tail.version != written:
                version, text, truncated = tail.snapshot()
                self._live[execution_id] = (tail, version)
                changed.append(Entry(OutputRecord(execution_id, text, truncated)))
        return changed

    def _write(self, batch: list[Entry]) -> None:
        """Write a batch, trying again on errors (a locked or restarting database) until
        it is written; only a stop whose time is up leaves it (the rows stay ``running``,
        and the leader records them ``interrupted`` when their lease ends)."""
        tries = 0
        while True:
            try:
                with self.db.write_connection() as connection:
                    settled = record(
                        connection, [entry.record for entry in batch], self.settings, self.worker
                    )
                break
            except Exception:
                tries += 1
                logger.warning("Recording %d run change(s) failed (try %d); trying again",
                               len(batch), tries, exc_info=tries == 1)  # fmt: skip
                if self._stopping_by is not None and time.monotonic() > self._stopping_by:
                    logger.error("Stopping with %d run change(s) not written", len(batch))
                    return
                time.sleep(min(0.05 * 2 ** min(tries, 6), 2))
        if settled.queued:
            self.on_queued(*settled.queued)
