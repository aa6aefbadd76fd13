"""The intake: turns fires into execution rows, in batches, off the scheduler thread.

APScheduler's thread calls :meth:`Intake.submit` (through ``dispatch.fire``), which only
appends to a queue, so the scheduler hands out due jobs without waiting on the database.
A single thread drains the queue and writes each batch in one transaction:

* a fire to run becomes a ``queued`` row, or ``skipped`` when the job's overlap policy is
  ``skip`` and a run of it is still queued or running;
* fires later than the grace time become one ``missed`` row per job and batch, with the
  count of fires it stands for in ``result.missed_fires``.

The runner is woken after each batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from app.db import Database, utcnow
from app.models import Execution, Job

logger = logging.getLogger("cronwell.intake")
BATCH_LIMIT = 1000


def _insert_new_fires(dialect: str):
    """INSERT that skips a fire already recorded (the partial unique index on fires)."""
    if dialect == "sqlite":
        return sqlite.insert(Execution).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(Execution).on_conflict_do_nothing()
    return insert(Execution)


@dataclass(frozen=True)
class Fire:
    job_id: str
    scheduled_for: dt.datetime | None
    missed: tuple[dt.datetime, ...]


class Intake:
    def __init__(
        self, db: Database, offer: Callable[[list[tuple[int, dt.datetime]]], None]
    ) -> None:
        self.db = db
        self.offer = offer
        self._queue: queue.SimpleQueue[Fire | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cronwell-intake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def submit(
        self, job_id: str, scheduled_for: dt.datetime | None, missed: Sequence[dt.datetime]
    ) -> None:
        self._idle.clear()
        self._queue.put(Fire(job_id, scheduled_for, tuple(missed)))

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH_LIMIT:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._record_safely(batch)
                    return
                batch.append(item)
            self._record_safely(batch)
            if self._queue.empty():
                self._idle.set()

    def _record_safely(self, batch: list[Fire]) -> None:
        # Keep trying: a fire taken from APScheduler exists only here until written.
        for attempt in range(20):
            try:
                self.offer(self.record(batch))
                return
            except Exception:
                logger.exception("Could not record %d fire(s) (try %d)", len(batch), attempt + 1)
                threading.Event().wait(min(0.1 * 2**attempt, 5))

    def record(self, batch: list[Fire]) -> list[tuple[int, dt.datetime]]:
        """Write one batch of fires as execution rows, in one transaction.

        Returns the (id, scheduled_at) of the queued rows, for the runner.
        """
        now = utcnow()
        job_ids = {f.job_id for f in batch}
        with self.db.write() as session:
            jobs = {
                row.id: row
                for row in session.execute(
                    select(Job.id, Job.overlap_policy, Job.misfire_grace_seconds).where(
                        Job.id.in_(job_ids), Job.deleted_at.is_(None)
                    )
                )
            }
            busy = self._busy_runs(
                session, [j for j, r in jobs.items() if r.overlap_policy == "skip"], now
            )
            rows = []
            for fire in batch:
                job = jobs.get(fire.job_id)
                if job is None:
                    continue  # deleted while the fire was in flight
                if fire.missed:
                    rows.append(self._missed_row(fire, job.misfire_grace_seconds, now))
                if fire.scheduled_for is None:
                    continue
                if job.overlap_policy == "skip" and fire.job_id in busy:
                    rows.append(
                        {
                            "job_id": fire.job_id,
                            "status": "skipped",
                            "trigger": "schedule",
                            "attempt": 1,
                            "scheduled_at": fire.scheduled_for,
                            "finished_at": now,
                            "error": "Skipped: the previous run "
                            f"(execution {busy[fire.job_id]}) was still in progress "
                            "and overlap_policy is skip.",
                            "created_at": now,
                        }
                    )
                    continue
                rows.append(
                    {
                        "job_id": fire.job_id,
                        "status": "queued",
                        "trigger": "schedule",
                        "attempt": 1,
                        "scheduled_at": fire.scheduled_for,
                        "created_at": now,
                    }
                )
                if job.overlap_policy == "skip":
                    busy[fire.job_id] = "queued in this batch"
            if not rows:
                return []
            written = session.execute(
                _insert_new_fires(session.get_bind().dialect.name).returning(
                    Execution.id, Execution.scheduled_at, Execution.status
                ),
                rows,
            ).all()
        return [(row.id, row.scheduled_at) for row in written if row.status == "queued"]

    @staticmethod
    def _busy_runs(session, job_ids: list[str], now: dt.datetime) -> dict[str, object]:
        if not job_ids:
            return {}
        stmt = select(Execution.job_id, Execution.id).where(
            Execution.job_id.in_(job_ids),
            or_(
                Execution.status == "running",
                (Execution.status == "queued") & (Execution.scheduled_at <= now),
            ),
        )
        return {job_id: exec_id for job_id, exec_id in session.execute(stmt)}

    @staticmethod
    def _missed_row(fire: Fire, grace: int, now: dt.datetime) -> dict:
        count = len(fire.missed)
        first, last = fire.missed[0], fire.missed[-1]
        ran = " (a later fire within the grace time runs instead)" if fire.scheduled_for else ""
        return {
            "job_id": fire.job_id,
            "status": "missed",
            "trigger": "schedule",
            "attempt": 1,
            "scheduled_at": first,
            "finished_at": now,
            "result": {
                "missed_fires": count,
                "first_scheduled_at": first.astimezone(dt.UTC).isoformat(),
                "last_scheduled_at": last.astimezone(dt.UTC).isoformat(),
            },
            "error": f"{count} fire(s) missed: more than misfire_grace_seconds ({grace}) "
            f"late{ran}.",
            "created_at": now,
        }
