"""The due runs one worker knows of: a heap by start time, filled from the queue.

Owned by the runner's loop (:mod:`app.scheduler.runner`), which alone calls it. Rows
come in from the pass (:meth:`DueRuns.add`), from a read by id of rows queued in this
process (:meth:`read_queued_here`), and from a read-only poll of the queue
(:meth:`poll`). A row whose ``run_on`` this worker's labels do not match is left to the
others. Just before a claim, :meth:`verify` re-reads the definitions of due rows whose
job changed (one read a batch).
"""

from __future__ import annotations

import datetime as dt
import heapq
import time
from collections.abc import Iterable

from sqlalchemy import select

from app.db import Database, utcnow
from app.models import Execution
from app.scheduler.inbox import Ready
from app.scheduler.intake import VERIFY_SECONDS, queued_specs, still_queued
from app.scheduler.stages import RunSpec

#: Rows read per check, in slots: about what starts before the check is stale, so a row
#: waiting in a backlog is not read again and again.
VERIFY_BATCH_SLOTS = 4
#: Longer than any poll's snapshot can be old.
DONE_MEMORY_SECONDS = 60.0
#: Queued ids read by one poll at most.
POLL_LIMIT = 5000

Item = tuple[dt.datetime, int, Ready]


class DueRuns:
    def __init__(self, db: Database, labels: dict, verify_batch: int) -> None:
        self.db = db
        self.labels = labels
        self.verify_batch = verify_batch
        self._heap: list[Item] = []
        self._known: set[int] = set()  # ids in the heap or running here
        # Ids ended here recently, or left to other workers (id -> monotonic time): a
        # poll's snapshot may still show them queued.
        self._done: dict[int, float] = {}
        self._queued_here: set[int] = set()

    def add(self, specs: Iterable[RunSpec]) -> None:
        checked = time.monotonic()
        for spec in specs:
            if not spec.runs_on(self.labels):
                self._done[spec.execution_id] = checked  # the others': not read again soon
            elif spec.execution_id not in self._known and spec.execution_id not in self._done:
                self._known.add(spec.execution_id)
                heapq.heappush(self._heap, Ready(spec, checked).key())

    def queued_here(self, execution_ids: Iterable[int]) -> None:
        """Rows queued in this process: read at the loop's next turn, by id."""
        self._queued_here.update(execution_ids)

    def read_queued_here(self) -> None:
        ids, self._queued_here = sorted(self._queued_here - self._known), set()
        if ids:
            with self.db.read() as session:
                self.add(queued_specs(session, ids).values())

    def poll(self, horizon: dt.datetime) -> None:
        """Add the queued rows due by ``horizon`` not known yet (read-only)."""
        cutoff = time.monotonic() - DONE_MEMORY_SECONDS
        self._done = {i: t for i, t in self._done.items() if t > cutoff}
        with self.db.read() as session:
            ids = session.scalars(
                select(Execution.id)
                .where(Execution.status == "queued", Execution.scheduled_at <= horizon)
                .order_by(Execution.scheduled_at, Execution.id)
                .limit(POLL_LIMIT)
            ).all()
            new = [i for i in ids if i not in self._known and i not in self._done]
            # Definitions only for rows not known yet (most are, in a burst).
            specs = queued_specs(session, new) if new else {}
        self.add(specs.values())

    def verify(self) -> None:
        """Re-read the definitions of due rows whose job changed; drop the rows
        withdrawn or cancelled meanwhile. Rows checked within VERIFY_SECONDS are not
        checked again."""
        mono = time.monotonic()
        soon = utcnow() + dt.timedelta(seconds=VERIFY_SECONDS)
        if not self._heap:
            return
        head = self._heap[0]
        if head[0] > soon or head[2].verified >= mono - VERIFY_SECONDS:
            return  # the next run to start was read just now (or is not due yet)
        stale = [
            item
            for when, _, item in heapq.nsmallest(self.verify_batch, self._heap)
            if when <= soon and item.verified < mono - VERIFY_SECONDS
        ]
        if not stale:
            return
        with self.db.read() as session:
            current = still_queued(session, [item.spec for item in stale])
        for item in stale:
            spec = current.get(item.execution_id)
            if spec is not None and spec.runs_on(self.labels):
                item.spec, item.verified = spec, mono
            else:
                self._known.discard(item.execution_id)  # dropped when popped

    def next_start(self) -> dt.datetime | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, count: int, now: dt.datetime) -> list[Item]:
        """Up to ``count`` due rows, in start order."""
        picked: list[Item] = []
        while self._heap and len(picked) < count and self._heap[0][0] <= now:
            item = heapq.heappop(self._heap)
            if item[2].execution_id in self._known:
                picked.append(item)  # else: withdrawn or cancelled while queued
        return picked

    def put_back(self, item: Item) -> None:
        heapq.heappush(self._heap, item)

    def discard(self, execution_id: int) -> None:
        """A queued row cancelled: not claimed when its time comes."""
        self._known.discard(execution_id)

    def forget(self, execution_id: int) -> None:
        """Its outcome is written, or it is not this worker's: remember it as done."""
        self._known.discard(execution_id)
        self._done[execution_id] = time.monotonic()
