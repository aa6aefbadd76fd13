"""Waking the other workers when a run is queued for now (PostgreSQL's LISTEN/NOTIFY).

A worker finds queued rows by a poll every half second: an index read of the due ids,
cheap on either database. A run-now made in one process is claimed by that process's
runner at once; on PostgreSQL the others are told too (``NOTIFY cronwell_queued``), so
one whose labels fit, or that has a free slot, claims it without waiting for its poll.
Each worker listens on a connection of its own (psycopg's ``notifies()``), and listens
again after the database comes back. On SQLite, workers share one host and the poll is
the wake-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text

logger = logging.getLogger("cronwell.runner")
CHANNEL = "cronwell_queued"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")
#: How long a listen waits before it checks whether it should stop.
LISTEN_SECONDS = 1.0
#: The wait before listening again after the connection broke.
RELISTEN_SECONDS = 1.0


def announce_queued(engine: Engine) -> None:
    """Tell every listening worker that a run is queued for now (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect() as connection:
            connection.execute(_NOTIFY)
            connection.commit()
    except Exception:
        logger.warning("Could not notify the other workers (they find the run at their poll)")


class Listener:
    """A thread that calls ``on_queued()`` whenever a run is announced."""

    def __init__(self, engine: Engine, on_queued: Callable[[], None]) -> None:
        self.engine = engine
        self.on_queued = on_queued
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="cronwell-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=LISTEN_SECONDS + 1)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception:
                logger.warning("Listening for queued runs failed; listening again soon")
                self._stopping.wait(RELISTEN_SECONDS)

    def _listen(self) -> None:
        # A connection of its own, out of the pool for as long as it listens.
        raw = self.engine.raw_connection()
        try:
            connection = raw.driver_connection
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            self.on_queued()  # anything announced while not listening
            while not self._stopping.is_set():
                for _ in connection.notifies(timeout=LISTEN_SECONDS, stop_after=1):
                    self.on_queued()
        finally:
            raw.invalidate()  # never handed back to the pool in LISTEN mode
