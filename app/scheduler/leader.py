"""Who leads: a lease in the database with a leadership number, and a lock for fast
failover.

The leader plans fires (writes ``queued`` rows) and keeps the store in step with
``jobs``; every worker runs them (:mod:`app.scheduler.claims`). Leadership is the row
``scheduler_leader`` (id 1): its ``term`` grows with each new leader, and its
``lease_until`` says until when the leader holds it without a renewal.

* **Taking over.** A process takes the row (``term + 1``) when it holds the lock, or when
  the lease has ended (the leader froze, or lost the database while keeping its lock).
  The lock dies with its holder, so a crashed leader is replaced within a second:
  SQLite, an exclusive ``flock`` on ``<database>.lock``; PostgreSQL, a session-level
  advisory lock on a dedicated connection.
* **Fencing.** Every write the leader makes as leader (a pass, a sync, the upkeep)
  begins with :meth:`Leadership.fence`: the lock must still be its own (its connection
  alive and the lock granted to it), and an UPDATE renews the lease *where the term is
  still its own*. A stale term refuses the whole transaction, so a former leader's late
  write changes nothing; the process then steps down.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, or_, text, update

from app.db import Database, upsert_insert, utcnow
from app.models import LeaderRecord

logger = logging.getLogger("cronwell.leader")
ADVISORY_KEY = 0x43524F4E  # "CRON"
#: Whether this backend holds the advisory lock (a bigint key: classid 0, objid the key).
_LOCK_GRANTED = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = 0 AND objid = :k AND objsubid = 1"
)


class LeaderLock:
    def acquire(self) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def held(self) -> bool:  # pragma: no cover - interface
        """Whether the lock is still this process's (checked, not remembered)."""
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

    def held(self) -> bool:
        # A flock lives as long as its descriptor: the kernel never takes it back.
        return self._fd is not None

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
            if self.held():
                return True
            self._drop()
        conn = self.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        """Ask the server: is the lock granted to this connection's backend? A connection
        the server dropped (a restart) fails here, and the lock is not ours any more."""
        if self._conn is None:
            return False
        try:
            granted = self._conn.execute(_LOCK_GRANTED, {"k": ADVISORY_KEY}).scalar()
            self._conn.commit()
        except Exception:
            logger.warning("The leader lock's connection is gone")
            self._drop()
            return False
        return bool(granted)

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            except Exception:
                logger.warning("Could not release the leader lock (its connection is gone)")
            finally:
                self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                logger.debug("Closing the lock's connection failed", exc_info=True)


class NullLeaderLock(LeaderLock):
    """For in-memory SQLite: one process by definition."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None


def make_leader_lock(engine: Engine, sqlite_file: Path | None) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLeaderLock(engine)
    if sqlite_file is not None:
        return FileLeaderLock(sqlite_file.with_name(sqlite_file.name + ".lock"))
    return NullLeaderLock()


class StaleLeadership(Exception):
    """This process's leadership number is no longer the current one."""

    def __init__(self, term: int | None) -> None:
        super().__init__(f"Leadership {term} is stale: another process leads now.")


class Leadership:
    """This process's claim to lead: the lock, the term it holds, and the fence."""

    def __init__(self, db: Database, lock: LeaderLock, worker: str, lease_seconds: float) -> None:
        self.db = db
        self.lock = lock
        self.worker = worker
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.term: int | None = None
        self.since: dt.datetime | None = None
        self._had_lock = False

    def take(self) -> bool:
        """Lead if the lock is ours or the current lease has ended: a higher term."""
        have_lock = self.lock.acquire()
        now = utcnow()
        table = LeaderRecord.__table__
        with self.db.write_connection() as connection:
            connection.execute(
                upsert_insert(connection.dialect.name, table)
                .values(id=1, pid=0, host="", since=now, heartbeat_at=now, term=0)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            takeover = update(table).where(table.c.id == 1)
            if not have_lock:
                takeover = takeover.where(
                    or_(table.c.lease_until.is_(None), table.c.lease_until < now)
                )
            term = connection.execute(
                takeover.values(
                    term=table.c.term + 1, pid=os.getpid(), host=socket.gethostname(),
                    worker=self.worker, since=now, heartbeat_at=now, lease_until=now + self.lease,
                ).returning(table.c.term)
            ).scalar()  # fmt: skip
        if term is None:
            return False
        self.term, self.since, self._had_lock = term, now, have_lock
        logger.info("Process %d leads the scheduler (leadership %d)", os.getpid(), term)
        return True

    def fence(self, connection: Connection) -> None:
        """In a write transaction the leader makes as leader: check the lock and renew the
        lease under this term. Raises :class:`StaleLeadership` (the caller's transaction
        must roll back, and the process step down)."""
        if self.term is None:
            raise StaleLeadership(None)
        if self._had_lock and not self.lock.held():
            raise StaleLeadership(self.term)  # the lock was lost: someone may lead now
        if not self._had_lock and self.lock.acquire():
            self._had_lock = True  # took over by lease; the lock is free again
        table = LeaderRecord.__table__
        now = utcnow()
        renewed = connection.execute(
            update(table)
            .where(table.c.id == 1, table.c.term == self.term)
            .values(heartbeat_at=now, lease_until=now + self.lease)
        ).rowcount
        if not renewed:
            raise StaleLeadership(self.term)

    def renew(self) -> None:
        """Renew the lease in a transaction of its own (the leader's heartbeat)."""
        with self.db.write_connection() as connection:
            self.fence(connection)

    def give_up(self) -> None:
        """Step down: end the lease (when still ours) so another takes over at once."""
        term, self.term, self.since = self.term, None, None
        try:
            if term is not None:
                table = LeaderRecord.__table__
                with self.db.write_connection() as connection:
                    connection.execute(
                        update(table)
                        .where(table.c.id == 1, table.c.term == term)
                        .values(lease_until=None, pid=0)
                    )
        except Exception:
            logger.warning("Could not end the leader's lease; it ends by itself")
        finally:
            self.lock.release()
            self._had_lock = False


def read_leader_record(db: Database) -> dict[str, Any] | None:
    with db.read() as session:
        record = session.get(LeaderRecord, 1)
        if record is None or not record.pid:
            return None
        return {
            "pid": record.pid,
            "host": record.host,
            "since": record.since,
            "heartbeat_at": record.heartbeat_at,
            "term": record.term,
            "lease_until": record.lease_until,
        }
