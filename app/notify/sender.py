"""The sender: delivers the outbox's pending notifications, in a process of its own.

Rows come from :mod:`app.core.finals`, written with the outcome they are about. The
leader starts the sender process (:class:`SenderProcess`) when rows are pending, so its
work never takes the leader's GIL from a run that is due (in the leader's own threads,
200 notifications a second moved steady p99 lateness by 5 ms); it ends after a minute
with nothing to send, when the leader steps down, or when the leader dies. Its main
thread reads the due rows (with their job and execution, one read for many)
and hands them to NOTIFY_THREADS delivery threads, so a receiver that never answers
holds one of them for at most NOTIFY_TIMEOUT_SECONDS, never a run's slot; it writes what
came of them in one transaction a round, and reads again as soon as deliveries finish
(at most every GATHER_SECONDS: a burst's thousand notifications go out at the receivers'
pace), else every POLL_SECONDS.
A failed try is tried again after NOTIFY_RETRY_SECONDS, doubling each time, until
NOTIFY_ATTEMPTS tries have failed (then the row reads ``failed``). A row pending at a
crash is still pending at the restart and is sent then: delivery is at least once.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from app.config import Settings
from app.db import Database, add_counts, make_engine, utcnow
from app.logs import configure_logging, run_fields
from app.models import Execution, Job, Notification, NotificationCount
from app.notify import messages
from app.notify.delivery import Delivery, deliver
from app.notify.urls import mask

logger = logging.getLogger("cronwell.notify")
POLL_SECONDS = 0.5
GATHER_SECONDS = 0.05
#: Rows handed out at once, per delivery thread.
ROWS_PER_THREAD = 8

notifications = Notification.__table__
counts = NotificationCount.__table__
executions = Execution.__table__
jobs = Job.__table__
#: The due rows with what their messages say (columns only: an execution's output, up to
#: 64 KiB, is not read).
_DUE = (
    select(
        notifications.c.id,
        notifications.c.event,
        notifications.c.url,
        notifications.c.attempts,
        executions.c.id.label("execution_id"),
        *(executions.c[key] for key in messages.EXECUTION_FIELDS if key != "id"),
        jobs.c.id.label("job_id"),
        jobs.c.name.label("job_name"),
        jobs.c.type.label("job_type"),
    )
    .join(executions, executions.c.id == notifications.c.execution_id)
    .join(jobs, jobs.c.id == executions.c.job_id)
    .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= bindparam("now"))
    .order_by(notifications.c.next_attempt_at, notifications.c.id)
    .limit(bindparam("limit"))
)
_RESULT = (
    update(notifications)
    .where(notifications.c.id == bindparam("b_id"), notifications.c.status == "pending")
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next_attempt_at"),
        error=bindparam("b_error"),
        sent_at=bindparam("b_sent_at"),
    )
)


@dataclass(frozen=True)
class Outgoing:
    """A notification to deliver, as read from the outbox."""

    id: int
    url: str
    attempts: int  # tries so far
    job_id: str
    execution_id: int
    message: messages.Message


class Sender:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.threads = max(1, settings.notify_threads)
        self._outgoing: queue.SimpleQueue[Outgoing | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[Outgoing, Delivery]] = queue.SimpleQueue()
        self._in_flight: set[int] = set()  # handed out, outcome not written yet
        self._wake = threading.Event()
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="cronwell-notify", daemon=True).start()
        for n in range(self.threads):
            threading.Thread(target=self._work, name=f"cronwell-notify-{n}", daemon=True).start()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def idle(self) -> bool:
        """Nothing handed out and not written yet (the outbox may still hold rows due
        later)."""
        return not self._in_flight and self._done.empty()

    def stop(self) -> None:
        """Stop handing out rows. A delivery under way ends on its own (daemon threads,
        each bounded by its timeout); a row whose outcome was not written is pending, and
        the next sender sends it."""
        self._stop.set()
        self._wake.set()
        for _ in range(self.threads):
            self._outgoing.put(None)

    # -- the sender's thread -------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._write_outcomes()
                self._hand_out()
            except Exception:
                logger.exception("Reading or writing the notification outbox failed")
            self._wake.wait(POLL_SECONDS)
            # A moment for more deliveries to finish: a round a delivery would make a read
            # and a write of its own for each.
            self._stop.wait(GATHER_SECONDS)
            self._wake.clear()

    def _hand_out(self) -> None:
        room = self.threads * ROWS_PER_THREAD - len(self._in_flight)
        if room <= 0:
            return
        with self.db.read() as session:
            rows = session.execute(
                _DUE, {"now": utcnow(), "limit": room + len(self._in_flight)}
            ).all()
        public_url = self.settings.public_url
        for row in rows:
            if row.id in self._in_flight or room <= 0:
                continue
            room -= 1
            self._in_flight.add(row.id)
            message = messages.build(
                row.event,
                {"id": row.job_id, "name": row.job_name, "type": row.job_type},
                {key: getattr(row, key) for key in messages.EXECUTION_FIELDS if key != "id"}
                | {"id": row.execution_id},
                public_url,
            )
            self._outgoing.put(
                Outgoing(row.id, row.url, row.attempts, row.job_id, row.execution_id, message)
            )

    def _write_outcomes(self) -> None:
        """Write what came of the deliveries finished since the last round, in one go."""
        finished: list[tuple[Outgoing, Delivery]] = []
        while True:
            try:
                finished.append(self._done.get_nowait())
            except queue.Empty:
                break
        if not finished:
            return
        now = utcnow()
        limit = self.settings.notify_attempts
        first_wait = self.settings.notify_retry_seconds
        rows = []
        for item, delivery in finished:
            attempts = item.attempts + 1
            row = {
                "b_id": item.id,
                "b_attempts": attempts,
                "b_status": "pending",
                "b_next_attempt_at": now,
                "b_error": None if delivery.ok else delivery.detail,
                "b_sent_at": now if delivery.ok else None,
            }
            if delivery.ok:
                row["b_status"] = "sent"
            elif attempts >= limit:
                row["b_status"] = "failed"
            else:
                row["b_next_attempt_at"] = now + dt.timedelta(
                    seconds=first_wait * 2 ** (attempts - 1)
                )
            rows.append(row)
        tries = collections.Counter("sent" if d.ok else "failed" for _, d in finished)
        try:
            with self.db.write_connection() as connection:
                connection.execute(_RESULT, rows)
                add_counts(
                    connection,
                    counts,
                    ["status"],
                    [{"status": s, "count": n} for s, n in tries.items()],
                )
        except Exception:
            for pair in finished:  # written in the next round
                self._done.put(pair)
            raise
        for item, delivery in finished:
            self._log(item, item.attempts + 1, delivery)
        self._in_flight.difference_update(item.id for item, _ in finished)

    def _log(self, item: Outgoing, attempts: int, delivery: Delivery) -> None:
        extra = run_fields(item.job_id, item.execution_id)
        if delivery.ok:
            logger.info(
                "Notification %d (%s) sent to %s: %s", item.id, item.message.event,
                mask(item.url), delivery.detail, extra=extra,
            )  # fmt: skip
        else:
            logger.warning(
                "Notification %d (%s) to %s failed (try %d): %s", item.id, item.message.event,
                mask(item.url), attempts, delivery.detail, extra=extra,
            )  # fmt: skip

    # -- delivery threads ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._outgoing.get()
            if item is None:
                return
            if self._stop.is_set():
                continue
            delivery = deliver(item.url, item.message, self.settings)
            self._done.put((item, delivery))
            self._wake.set()


#: The sender process ends after this long with nothing to send.
IDLE_SECONDS = 60.0
_ANY_PENDING = select(notifications.c.id).where(notifications.c.status == "pending").limit(1)


class SenderProcess:
    """The leader's handle on the sender process: started when notifications are
    pending, stopped when the leader steps down."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.proc: subprocess.Popen | None = None

    def check(self) -> None:
        """Start the process if rows are pending and it is not running (one indexed read)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        with self.db.read() as session:
            if session.execute(_ANY_PENDING).first() is None:
                return
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.notify.sender"], stdin=subprocess.PIPE, text=True
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(self.settings.plain()))
        self.proc.stdin.close()

    def stop(self, timeout: float = 5) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def main() -> None:
    """The sender process: the settings come as JSON on stdin. It ends when it has had
    nothing to send for IDLE_SECONDS, on SIGTERM, or when its parent (the leader) is
    gone."""
    import signal

    settings = Settings.load(json.load(sys.stdin))
    configure_logging(settings)
    parent = os.getppid()
    db = Database(make_engine(settings.database_url))
    sender = Sender(db, settings)
    signal.signal(signal.SIGTERM, lambda *_: sender.stop())
    sender.start()
    idle_since = time.monotonic()
    while not sender.stopped and os.getppid() == parent:
        time.sleep(0.5)
        if not sender.idle:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_SECONDS:
            with db.read() as session:
                if session.execute(_ANY_PENDING).first() is None:
                    break
            idle_since = time.monotonic()
    sender.stop()
    db.engine.dispose()


if __name__ == "__main__":
    main()
