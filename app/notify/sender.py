"""The leader's sender: delivers the outbox's pending notifications in the background.

Rows come from :mod:`app.scheduler.finals`, written with the outcome they are about. The
sender polls for due rows every POLL_SECONDS and hands each to one of NOTIFY_THREADS
threads of its own, so a receiver that never answers holds one of them for at most
NOTIFY_TIMEOUT_SECONDS and never a run's slot. A failed try is tried again after
NOTIFY_RETRY_SECONDS, doubling each time, until NOTIFY_ATTEMPTS tries have failed (then
the row reads ``failed``). A row pending at a crash is still pending at the restart and
is sent then: delivery is at least once.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from app.db import Database, utcnow
from app.instruments import Instruments
from app.models import Execution, Job, Notification
from app.notify import messages
from app.notify.delivery import Delivery, deliver
from app.notify.urls import mask

logger = logging.getLogger("cronwell.notify")
POLL_SECONDS = 0.5


class Sender:
    def __init__(self, db: Database, settings: Mapping[str, Any], instruments: Instruments) -> None:
        self.db = db
        self.settings = settings
        self.instruments = instruments
        self.threads = max(1, int(settings.get("NOTIFY_THREADS", 4)))
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._workers = [
            threading.Thread(target=self._poll, name="cronwell-notify", daemon=True),
            *(
                threading.Thread(target=self._work, name=f"cronwell-notify-{n}", daemon=True)
                for n in range(self.threads)
            ),
        ]
        for thread in self._workers:
            thread.start()

    def stop(self) -> None:
        """Stop taking rows; a delivery under way ends on its own (daemon threads, each
        bounded by its timeout), and its row is tried again by the next leader if it
        was not recorded."""
        self._stop.set()
        for _ in range(self.threads):
            self._queue.put(None)
        self._workers = []

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._hand_out()
            except Exception:
                logger.exception("Reading the notification outbox failed")

    def _hand_out(self) -> None:
        with self._lock:
            room = self.threads * 2 - len(self._in_flight)
            busy = set(self._in_flight)
        if room <= 0:
            return
        with self.db.read() as session:
            due = session.scalars(
                select(Notification.id)
                .where(Notification.status == "pending", Notification.next_attempt_at <= utcnow())
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(room + len(busy))
            ).all()
        for notification_id in due:
            if notification_id in busy or room <= 0:
                continue
            room -= 1
            with self._lock:
                self._in_flight.add(notification_id)
            self._queue.put(notification_id)

    def _work(self) -> None:
        while True:
            notification_id = self._queue.get()
            if notification_id is None or self._stop.is_set():
                return
            try:
                self._send(notification_id)
            except Exception:
                logger.exception("Delivering notification %d failed", notification_id)
            finally:
                with self._lock:
                    self._in_flight.discard(notification_id)

    def _send(self, notification_id: int) -> None:
        with self.db.read() as session:
            row = session.execute(
                select(Notification, Execution, Job)
                .join(Execution, Execution.id == Notification.execution_id)
                .join(Job, Job.id == Execution.job_id)
                .where(Notification.id == notification_id, Notification.status == "pending")
            ).first()
            if row is None:
                return
            notification, execution, job = row
            message = messages.build(
                notification.event,
                {c: getattr(job, c) for c in ("id", "name", "type")},
                {c: getattr(execution, c) for c in messages.EXECUTION_FIELDS},
                self.settings.get("PUBLIC_URL"),
            )
            url, attempts = notification.url, notification.attempts
            job_id, execution_id = job.id, execution.id
        delivery = deliver(url, message, self.settings)
        self._record(notification_id, attempts + 1, delivery, job_id, execution_id, url)

    def _record(
        self,
        notification_id: int,
        attempts: int,
        delivery: Delivery,
        job_id: str,
        execution_id: int,
        url: str,
    ) -> None:
        now = utcnow()
        values: dict[str, Any] = {"attempts": attempts}
        extra = {"job_id": job_id, "execution_id": execution_id}
        if delivery.ok:
            values.update(status="sent", sent_at=now, error=None)
            logger.info(
                "Notification %d sent to %s (%s)", notification_id, mask(url), delivery.detail,
                extra=extra,
            )  # fmt: skip
        else:
            values["error"] = delivery.detail
            if attempts >= int(self.settings.get("NOTIFY_ATTEMPTS", 8)):
                values["status"] = "failed"
            else:
                delay = float(self.settings.get("NOTIFY_RETRY_SECONDS", 5)) * 2 ** (attempts - 1)
                values["next_attempt_at"] = now + dt.timedelta(seconds=delay)
            logger.warning(
                "Notification %d to %s failed (try %d): %s", notification_id, mask(url),
                attempts, delivery.detail, extra=extra,
            )  # fmt: skip
        self.instruments.notifications.labels("sent" if delivery.ok else "failed").inc()
        with self.db.write() as session:
            session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.status == "pending")
                .values(**values)
            )
