"""The watchdog: ends attempts at their deadline, acts on cancel requests, and renews this
worker's leases (every third of CRONWELL_LEASE_SECONDS, see
:meth:`app.scheduler.runner.Runner.renew_leases`).

It does not wait for a handler: at the deadline it sets the attempt's cancel token (the
built-in types stop at once: ``shell`` kills its process group, ``http`` shuts its
socket), and the runner records ``timeout`` and frees the slot. A cancel request made in
another worker process is a row flagged ``cancel_requested``, which the watchdog polls
for the attempts running here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from sqlalchemy import select

from app.db import Database
from app.models import Execution
from app.scheduler.workers import Attempt

logger = logging.getLogger("cronwell.runner")
WATCH_SECONDS = 0.1
CANCEL_POLL_SECONDS = 0.25


class Slots(Protocol):
    """What the watchdog needs of the runner that owns it."""

    def active_attempts(self) -> list[Attempt]: ...

    def stop_attempt(self, attempt: Attempt, status: str, error: str) -> None: ...

    def cancel(self, execution_id: int) -> None: ...

    def renew_leases(self) -> None: ...


class Watchdog:
    def __init__(self, db: Database, runner: Slots, renew_seconds: float) -> None:
        self.db = db
        self.runner = runner
        self.renew_seconds = renew_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="cronwell-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _loop(self) -> None:
        last_cancel_poll = last_renewal = 0.0
        while not self._stopping.wait(WATCH_SECONDS):
            if time.monotonic() - last_renewal >= self.renew_seconds:
                last_renewal = time.monotonic()
                self.runner.renew_leases()
            attempts = self.runner.active_attempts()
            if not attempts:
                continue
            now = time.monotonic()
            for attempt in attempts:
                if now >= attempt.context.deadline:
                    self.runner.stop_attempt(attempt, "timeout", attempt.timeout_message())
            if now - last_cancel_poll >= CANCEL_POLL_SECONDS:
                last_cancel_poll = now
                self._poll_cancel_requests([a.execution_id for a in attempts])

    def _poll_cancel_requests(self, ids: list[int]) -> None:
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
            self.runner.cancel(execution_id)
