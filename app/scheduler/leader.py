"""Who leads: the lock that lets exactly one process per database run the scheduler, and
the record that says which process it is (for GET /api/scheduler and /healthz).

The lock dies with its holder, so a crashed leader is replaced by another process:

* SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file (the kernel drops
  it when the process dies, kill -9 included);
* PostgreSQL: a session-level advisory lock held on a dedicated connection (dropped when
  the connection closes, which the server notices when the process dies).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, text

from app.db import Database, utcnow
from app.models import LeaderRecord

logger = logging.getLogger("cronwell.leader")
ADVISORY_KEY = 0x43524F4E  # "CRON"


class LeaderLock:
    def acquire(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def release(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class FileLeaderLock(LeaderLock):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.set_inheritable(fd, False)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLeaderLock(LeaderLock):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None


class NullLeaderLock(LeaderLock):
    """For in-memory SQLite: one process by definition."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


def make_leader_lock(engine: Engine, sqlite_file: Path | None) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLeaderLock(engine)
    if sqlite_file is not None:
        return FileLeaderLock(sqlite_file.with_name(sqlite_file.name + ".lock"))
    return NullLeaderLock()


def write_leader_record(db: Database, since: dt.datetime) -> None:
    """Say (again) that this process leads, since ``since``: its heartbeat."""
    now = utcnow()
    with db.write() as session:
        record = session.get(LeaderRecord, 1)
        if record is None or record.pid != os.getpid() or record.host != socket.gethostname():
            session.merge(
                LeaderRecord(
                    id=1, pid=os.getpid(), host=socket.gethostname(), since=since, heartbeat_at=now
                )
            )
        else:
            record.heartbeat_at = now


def clear_leader_record(db: Database) -> None:
    with db.write() as session:
        session.execute(delete(LeaderRecord).where(LeaderRecord.pid == os.getpid()))


def read_leader_record(db: Database) -> dict[str, Any] | None:
    with db.read() as session:
        record = session.get(LeaderRecord, 1)
        if record is None:
            return None
        return {
            "pid": record.pid,
            "host": record.host,
            "since": record.since,
            "heartbeat_at": record.heartbeat_at,
        }
