"""When this worker should claim next: the earliest start of a queued run it has heard of.

The runner's loop (:mod:`app.scheduler.runner`) alone uses it. The database chooses what
a claim takes (:func:`app.scheduler.claims.claim_due`); this only says *when* to claim,
from what the loop hears: the pass's rows (in the leading process), a run queued here
(a run-now, chained runs: due now), another worker's NOTIFY, and a poll of the queue's
head every POLL_SECONDS (an index read of the earliest queued rows).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable

from sqlalchemy import select

from app.db import Database
from app.models import WAITS_FOR_A_WORKER, Execution

#: Queued rows read by a poll of the queue's head (a jittered row may start after the
#: rows behind it).
HEAD_ROWS = 50


class DueHint:
    """The start times of queued runs this worker has heard of, earliest first."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._starts: list[dt.datetime] = []  # a heap

    @property
    def next_start(self) -> dt.datetime | None:
        return self._starts[0] if self._starts else None

    def heard(self, starts: Iterable[dt.datetime]) -> None:
        """Runs that start at these times were queued."""
        for start in starts:
            heapq.heappush(self._starts, start)

    def read_head(self) -> list[dt.datetime]:
        """The starts of the earliest queued runs (read-only; on the runner's I/O thread)."""
        with self.db.read() as session:
            rows = session.execute(
                select(Execution.scheduled_at, Execution.start_after)
                .where(*WAITS_FOR_A_WORKER)
                .order_by(Execution.scheduled_at, Execution.id)
                .limit(HEAD_ROWS)
            ).all()
        return [row.start_after or row.scheduled_at for row in rows]

    def polled(self, starts: list[dt.datetime]) -> None:
        """What a read of the queue's head found replaces what was heard before."""
        self._starts = list(starts)
        heapq.heapify(self._starts)

    def claimed(self, horizon: dt.datetime, more: bool, now: dt.datetime) -> None:
        """After a claim of the runs due by ``horizon``: forget those; when due runs are
        left (``more``: no slot for them), the next claim is due now."""
        while self._starts and self._starts[0] <= horizon:
            heapq.heappop(self._starts)
        if more:
            heapq.heappush(self._starts, now)
