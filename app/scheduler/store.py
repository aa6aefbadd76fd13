"""APScheduler's SQLAlchemy job store on our engine and our write path.

The table is declared in our metadata (:data:`app.models.job_store_table`), so queries
join its indexed ``next_run_time`` to show a job's next run. Reads go through the
database's read-only view; writes through :meth:`Database.write_connection` (the process
write lock and ``BEGIN IMMEDIATE`` on SQLite), never a transaction of the store's own.

:attr:`CronwellJobStore.lock` keeps the store's writers apart: the pass (which reads the
due jobs, then writes their next run times) and the sync of changed jobs each hold it
from their read to their commit, so neither writes back a state the other replaced.
Holding it, a writer may also hand the store its transaction (:meth:`writing_on`): the
sync of a hundred jobs through APScheduler's ``add_job`` is then one commit, not a
hundred.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections.abc import Iterator, Sequence

from apscheduler.job import Job as APSJob
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import Connection, bindparam

from app.db import Database, upsert_insert
from app.models import job_store_table

_ADVANCE = (
    job_store_table.update()
    .where(job_store_table.c.id == bindparam("b_id"))
    .values(next_run_time=bindparam("b_next"), job_state=bindparam("b_state"))
)


def _insert_unless_taken(dialect: str, table):
    """INSERT that adds no row when the id is taken."""
    return upsert_insert(dialect, table).on_conflict_do_nothing(index_elements=["id"])


class CronwellJobStore(SQLAlchemyJobStore):
    """The store table from our metadata; every write in one of our transactions."""

    def __init__(self, db: Database) -> None:
        super().__init__(engine=db.reader, tablename=job_store_table.name)
        self.jobs_t = job_store_table
        self.db = db
        self.lock = threading.RLock()
        self._connection: Connection | None = None  # set by writing_on

    @contextlib.contextmanager
    def writing_on(self, connection: Connection) -> Iterator[None]:
        """Write on ``connection`` (the caller's transaction) until the block ends.
        Only with :attr:`lock` held: no other writer is inside."""
        self._connection = connection
        try:
            yield
        finally:
            self._connection = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
        else:
            with self.db.write_connection() as connection:
                yield connection

    def _row(self, job: APSJob) -> dict:
        """A job's row, as SQLAlchemyJobStore writes it (its pickled state)."""
        return {
            "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
            "job_state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
        }

    def advance_rows(self, moved: Sequence[APSJob]) -> list[dict]:
        """The store rows of ``moved`` jobs with their new next run times, for
        :meth:`advance`: pickled before the pass takes the write lock, not under it."""
        return [
            {"b_id": job.id, "b_next": row["next_run_time"], "b_state": row["job_state"]}
            for job, row in ((job, self._row(job)) for job in moved)
        ]

    def advance(self, connection: Connection, moved: list[dict], done: Sequence[str]) -> None:
        """A pass's changes, in its transaction: the next run times of the jobs moved on
        (their :meth:`advance_rows`), and ``done`` jobs (no fire left) taken out."""
        table = self.jobs_t
        if moved:
            connection.execute(_ADVANCE, moved)
        if done:
            connection.execute(table.delete().where(table.c.id.in_(done)))

    # -- BaseJobStore's writes, for APScheduler's own add_job, modify_job, remove_job --

    def add_job(self, job: APSJob) -> None:
        with self._writing() as connection:
            # Not an IntegrityError: on PostgreSQL that would end the caller's transaction.
            insert = _insert_unless_taken(connection.dialect.name, self.jobs_t)
            if not connection.execute(insert.values(id=job.id, **self._row(job))).rowcount:
                raise ConflictingIdError(job.id)

    def update_job(self, job: APSJob) -> None:
        with self._writing() as connection:
            changed = connection.execute(
                self.jobs_t.update().where(self.jobs_t.c.id == job.id).values(**self._row(job))
            ).rowcount
        if not changed:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        with self._writing() as connection:
            removed = connection.execute(
                self.jobs_t.delete().where(self.jobs_t.c.id == job_id)
            ).rowcount
        if not removed:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        with self._writing() as connection:
            connection.execute(self.jobs_t.delete())

    def shutdown(self) -> None:
        """Nothing to close: the engine is the app's, shared."""
