"""The workers: every process that runs executions, as GET /api/workers, /ui/workers and
the metrics show them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from app.db import utcnow
from app.models import WORKERS_SHOWN_SECONDS, LeaderRecord, Worker
from app.runtime import Runtime

WORKER_STATES = ("alive", "lost")


def list_workers(rt: Runtime) -> list[dict[str, Any]]:
    """The workers heard from in the last ten minutes, leader first, then by start."""
    now = utcnow()
    lease = dt.timedelta(seconds=rt.settings.lease_seconds)
    with rt.db.read() as session:
        rows = session.scalars(
            select(Worker)
            .where(Worker.heartbeat_at >= now - dt.timedelta(seconds=WORKERS_SHOWN_SECONDS))
            .order_by(Worker.started_at, Worker.id)
        ).all()
        record = session.get(LeaderRecord, 1)
    leading = (
        record.worker
        if record is not None and record.lease_until is not None and record.lease_until > now
        else None
    )
    workers = [
        {
            "id": row.id,
            "host": row.host,
            "pid": row.pid,
            "labels": row.labels or {},
            "capacity": row.capacity,
            "running": row.running,
            "started_at": row.started_at,
            "heartbeat_at": row.heartbeat_at,
            "leader": row.id == leading,
            # Alive while its heartbeat is fresher than a lease: past that, its runs are
            # recorded interrupted.
            "state": "alive" if now - row.heartbeat_at <= lease else "lost",
        }
        for row in rows
    ]
    workers.sort(key=lambda worker: not worker["leader"])
    return workers
