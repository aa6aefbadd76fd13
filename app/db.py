"""Engine and sessions: one engine per app, shared with the APScheduler job store.

SQLite hazards handled here, in one place:

* WAL mode and a busy timeout, so readers never block the writer and writers wait for
  each other instead of failing at once.
* Write transactions begin with ``BEGIN IMMEDIATE``. With a plain (deferred) ``BEGIN`` a
  transaction that reads and then writes must upgrade its lock, and SQLite answers an
  upgrade conflict with "database is locked" at once, whatever the busy timeout.
  Read-only work goes through :attr:`Database.reader`, whose transactions use a plain
  ``BEGIN``.
* Writers take a Python lock, then a ``flock`` shared by every process on the file
  (``<database>.write.lock``), before SQLite's: they queue in order instead of polling
  in SQLite's busy handler, whose back-off sleeps (up to 100 ms a try) made fires late
  under load, and made several worker processes on one file slower than one. Holding
  the Python lock, a process's writers all write through one connection, kept open: a
  checkout from the pool and back cost as much as a small write's own SQL.
* SQLite hands datetimes back naive: :class:`UTCDateTime` stores UTC and returns aware
  values.

:func:`database_unavailable` tells an error of the database being away or busy (the API
and the UI answer 503, to be tried again) from one of a statement (a bug: 500).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event, func
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC
_READ_OPTION = "cronwell_read_only"
#: SQLite's primary result codes that say the file is busy or out of reach for now, not
#: that a statement is wrong (that is SQLITE_ERROR, a bug to see as one).
_SQLITE_AWAY = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
    }
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is away or busy for now (a restart, a cut
    network, no pooled connection in time, a file locked past the busy timeout), so that
    the same request may succeed if tried again."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_AWAY
    # PostgreSQL: psycopg's OperationalError is the server or the link to it (refused,
    # closed, shutting down, out of connections), never a wrong statement.
    return isinstance(error, OperationalError)


def utcnow() -> dt.datetime:
    """The current time, UTC-aware."""
    return dt.datetime.now(UTC)


def upsert_insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` and
    ``on_conflict_do_update`` (SQLite and PostgreSQL say them alike)."""
    if dialect == "postgresql":
        # Imported here: the PostgreSQL dialect costs a SQLite process 2 MiB.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def likely(condition: Any, dialect: str) -> Any:
    """``condition``, marked for SQLite's planner as true of most rows it is tested on
    (SQLite's ``likely()``), so that a lookup by ids stays one: without statistics,
    SQLite read ``id IN (...) AND status = 'queued'`` through the run queue's index, every
    queued row of a backlog for each claim. Other databases get the condition as it is."""
    return func.likely(condition) if dialect == "sqlite" else condition


def add_counts(connection: Connection, table: Any, keys: list[str], rows: list[dict]) -> None:
    """Add each row's ``count`` to ``table``'s row with the same ``keys`` (made at 0 when
    there is none), in one statement."""
    if rows:
        connection.execute(_count_upsert(connection.dialect.name, table, tuple(keys)), rows)


@functools.cache
def _count_upsert(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    """The upsert of :func:`add_counts`, built once per table: building it (its
    ``excluded`` alias) costs more than running it."""
    upsert = upsert_insert(dialect, table)
    return upsert.on_conflict_do_update(
        index_elements=list(keys), set_={"count": table.c.count + upsert.excluded["count"]}
    )


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and always returned UTC-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def hour_of(column: Any, dialect: str) -> Any:
    """SQL for the UTC hour a timestamp column's value falls in, as text ``YYYY-MM-DD HH``
    (the columns hold naive UTC)."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def make_engine(url: str, lease_seconds: float | None = None) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE for writes.
    A database error names its statement but never the values bound to it (a job's
    configuration holds secrets, and errors are logged).

    On PostgreSQL, with ``lease_seconds``, a transaction left idle for a third of a lease
    is ended by the server: a process frozen (or cut off) in the middle of one must not
    hold its row locks, and so the claims and the takeover of the others, past its
    lease. Its connections time out as fast (libpq's keepalives and TCP user timeout)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=20,
            max_overflow=20,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            # Let SQLAlchemy's begin event below issue BEGIN; the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            # 1 MiB of page cache a connection (SQLite: 2 MiB): pooled connections each
            # keep their own. Reads come from the file mapped in memory (up to 256 MiB),
            # pages the OS caches once for every process, instead of copies into each
            # connection's cache: a walk of the job list's index to page 1000 of 2000
            # takes 1.0 ms instead of 2.1.
            cursor.execute("PRAGMA cache_size=-1024")
            cursor.execute("PRAGMA mmap_size=268435456")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            read_only = conn.get_execution_options().get(_READ_OPTION, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if lease_seconds and url.startswith("postgresql"):
        # A third of a lease: the server ends a transaction left idle that long, and
        # libpq gives up on a connection whose peer stopped answering (a cut network)
        # instead of waiting for the kernel's minutes, so a worker cut off notices in
        # time to stop its runs before its lease ends.
        third = max(1.0, lease_seconds / 3)
        connect_args = {
            "options": f"-c idle_in_transaction_session_timeout={int(third * 1000)}",
            "connect_timeout": max(2, int(third)),
            "keepalives": 1,
            "keepalives_idle": max(1, int(third)),
            "keepalives_interval": 1,
            "keepalives_count": 2,
            "tcp_user_timeout": int(third * 1000),
        }
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args,
        hide_parameters=True,
    )


class HostWriteLock:
    """This process's writers one at a time (a thread lock), and the processes on one
    SQLite file one at a time (a ``flock`` beside it): a writer waits in the kernel's
    queue and is woken when the lock is free, instead of sleeping in SQLite's busy
    handler. A process killed while holding it releases it with its descriptor."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: tuple[int, int] | None = None  # (pid, fd): opened again after a fork

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self.path is None:
            return
        try:
            pid = os.getpid()
            if self._fd is None or self._fd[0] != pid:
                self._fd = (pid, os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644))
            fcntl.flock(self._fd[1], fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self.path is not None and self._fd is not None:
                fcntl.flock(self._fd[1], fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class Database:
    """Sessions over one engine: :meth:`write` for changes, :meth:`read` for queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = engine.execution_options(**{_READ_OPTION: True})
        self._write_sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock: contextlib.AbstractContextManager = contextlib.nullcontext()
        if self._sqlite:
            path = sqlite_path(str(engine.url))
            self._write_lock = HostWriteLock(
                path.with_name(path.name + ".write.lock") if path is not None else None
            )
        self._writer: tuple[int, Connection] | None = None  # (pid, connection), SQLite

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on success, rolled back on error."""
        with (
            self._write_lock,
            self._writing() as connection,
            self._write_sessions(bind=connection) as session,
            session.begin(),
        ):
            yield session

    @contextlib.contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in one write transaction (for the job store's writes)."""
        with self._write_lock, self._writing() as connection, connection.begin():
            yield connection

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """The connection to write through, under the write lock: on SQLite the one kept
        open for this process (a new one after a fork, or if it was invalidated); on
        other databases a connection from the pool, for this transaction."""
        if not self._sqlite:
            with self.engine.connect() as connection:
                yield connection
            return
        pid = os.getpid()
        if self._writer is None or self._writer[0] != pid or self._writer[1].invalidated:
            self._writer = (pid, self.engine.connect())
        yield self._writer[1]

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only (never blocks or is blocked by a writer on SQLite)."""
        with self._read_sessions() as session, session.begin():
            yield session
