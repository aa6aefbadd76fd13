"""This worker's leases on its runs: the renewal the runner's I/O thread makes, and which
runs its answer takes away (the runner stops those, recorded ``interrupted``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from app.config import Settings
from app.db import Database
from app.scheduler import claims
from app.scheduler.inbox import IoDone
from app.scheduler.workers import Attempt


class Leases:
    def __init__(self, db: Database, settings: Settings, worker: str, started_at: dt.datetime):
        self.db = db
        self.worker = worker
        self.started_at = started_at
        self.lease_seconds = settings.lease_seconds
        #: Renewed every third of a lease (at most every 2 s: the workers' heartbeat too).
        self.renew_seconds = min(2.0, self.lease_seconds / 3)
        self.labels = dict(settings.worker_labels)
        self.max_concurrent = settings.max_concurrent
        self.renewed_mono = time.monotonic()  # the last renewal that got through

    def renewal(self, ids: list[int]) -> Callable[[], set[int]]:
        """The renewal of ``ids`` (and the worker's heartbeat), for the I/O thread: the
        ids the database still gives this worker."""

        def renew() -> set[int]:
            with self.db.write_connection() as connection:
                return claims.renew(
                    connection, self.worker, self.lease_seconds, ids, self.max_concurrent,
                    self.labels, self.started_at,
                )  # fmt: skip

        return renew

    def lost(self, done: IoDone, active: dict[int, Attempt]) -> tuple[list[Attempt], str]:
        """The attempts a renewal's answer takes away, and why: those the database no
        longer gives this worker; all of them when no renewal got through for a lease."""
        if done.error is not None:
            if time.monotonic() - self.renewed_mono < self.lease_seconds:
                return [], ""
            reason = "This worker could not reach the database for a whole lease."
            return list(active.values()), reason
        self.renewed_mono = time.monotonic()
        # A run claimed after the renewal was asked for is not in it, and is its own.
        asked = [active[i] for i in done.context if i in active]
        reason = "This worker's lease on the run ended; it was recorded elsewhere."
        return [a for a in asked if a.execution_id not in done.result], reason
