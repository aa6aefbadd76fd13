"""Our ``jobs`` table is the source of truth; this applies it to APScheduler's store.

A change to a job's schedule, timezone, enabled flag, grace time or deleted state sets
its ``sync_pending`` flag and bumps its ``version`` (in the changing transaction, in any
worker). The leader applies pending jobs through APScheduler's own ``add_job`` and
``remove_job``, a batch in one transaction: within GATHER_SECONDS when the change was
made in the leading process, else at its next poll (SYNC_INTERVAL_SECONDS), and clears
the flag for the version it applied. A job's next
fire is counted from the time it changed, so a fire due between the change and the sync
is handed out late (within its grace time it runs; past it, it is recorded missed), never
lost. At start the leader also reconciles: it restores enabled jobs missing from the
store and drops store entries whose job is gone, disabled or deleted. A job changes in
the store only when its definition changed, so restarts keep an interval's phase.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.metadata
import logging
import pickle
import time
from collections.abc import Callable

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.util import obj_to_ref
from sqlalchemy import Connection, bindparam, select, update

from app.core.schedules import Schedule, first_fire_after_change
from app.db import Database, upsert_insert, utcnow
from app.models import Job, SchedulerState, job_store_table, schedule_changed_at
from app.scheduler.dispatch import fire
from app.scheduler.store import CronwellJobStore

logger = logging.getLogger("cronwell.scheduler")
#: Jobs applied per hold of the store lock (a pass waits for it).
SYNC_BATCH = 100
_COLUMNS = (
    Job.id,
    Job.version,
    Job.created_at,
    Job.updated_at,
    Job.schedule_type,
    Job.schedule_config,
    Job.timezone,
    Job.is_enabled,
    Job.deleted_at,
    Job.misfire_grace_seconds,
)
_APPLIED = (
    update(Job)
    .where(Job.id == bindparam("b_id"), Job.version == bindparam("b_version"))
    .values(sync_pending=False)
)


#: Store rows due within this long are checked at takeover, before the first pass; the
#: rest in the background, CHECK_BATCH rows at a time with a pause between, so that the
#: check (about 20,000 rows a second) leaves the requests their share of the GIL.
CHECK_AHEAD = dt.timedelta(minutes=5)
CHECK_BATCH = 500
CHECK_PAUSE_SECONDS = 0.05
#: A store row's schedule in each form this version writes (fixed times: the same bytes
#: in every process), for :func:`store_format`.
_SAMPLES = (
    Schedule("cron", {"expression": "0 * * * *"}, "Europe/Paris"),
    Schedule("interval", {"every": "1h"}, "UTC"),
    Schedule("once", {"run_at": "2000-01-01T00:00:00+00:00"}, "UTC"),
)


@functools.cache
def store_format(pickle_protocol: int) -> str:
    """What the store rows this version writes look like: a hash of the pickled trigger
    of each schedule type and the fire function's reference, with APScheduler's version
    (its job state). Every process of one format loads the rows of any other of that
    format, so the rows a leader of this format checked need no check by the next."""
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    triggers = [sample.trigger(since) for sample in _SAMPLES]
    shape = (importlib.metadata.version("APScheduler"), obj_to_ref(fire), triggers)
    return hashlib.sha256(pickle.dumps(shape, pickle_protocol)).hexdigest()[:32]


class StoreSync:
    def __init__(
        self,
        db: Database,
        scheduler: BaseScheduler,
        store: CronwellJobStore,
        fence: Callable[[Connection], None],
        on_applied: Callable[[], None],
    ) -> None:
        self.db = db
        self.scheduler = scheduler
        self.store = store
        self.fence = fence  # every store write is the leader's, under its number
        self.on_applied = on_applied  # a batch is in the store: the pass looks again
        self.format = store_format(store.pickle_protocol)
        self.checked = False  # every row was checked by a leader of this format
        # The takeover checks the rows due up to this time, check_the_rest() those after
        # it: one boundary for both, so no row falls between them.
        self.checked_up_to = utcnow()

    def apply_pending(self) -> int:
        """Apply every job whose change the store has not taken; how many."""
        with self.db.read() as session:
            rows = session.execute(select(*_COLUMNS).where(Job.sync_pending)).all()
        for start in range(0, len(rows), SYNC_BATCH):
            self._apply(rows[start : start + SYNC_BATCH], since_change=True)
        return len(rows)

    def reconcile(self) -> None:
        """At takeover: drop orphans, restore missing jobs, apply pending ones, and check
        that the rows due soon load, unless a leader of this format checked every row
        (and no leader of another format has led since)."""
        store = job_store_table
        with self.db.read() as session:
            checked_by = session.scalar(
                select(SchedulerState.store_checked_by).where(SchedulerState.id == 1)
            )
            self.checked = checked_by == self.format
            orphans = session.scalars(
                select(store.c.id)
                .outerjoin(Job, Job.id == store.c.id)
                .where(Job.id.is_(None) | Job.deleted_at.is_not(None) | ~Job.is_enabled)
            ).all()
            missing = session.execute(
                select(*_COLUMNS)
                .outerjoin(store, store.c.id == Job.id)
                .where(
                    store.c.id.is_(None),
                    Job.deleted_at.is_(None),
                    Job.is_enabled,
                    ~Job.sync_pending,
                    Job.schedule_type != "once",  # a one-shot that fired is finished
                )
            ).all()
        # The rows a pass may read soon are checked now; the rest by check_the_rest().
        unloadable = set()
        if self.checked:
            logger.info("The store's rows were checked by a leader of this version's format")
        else:
            self.checked_up_to = utcnow() + CHECK_AHEAD
            unloadable = self._unloadable_ids(due_before=self.checked_up_to)
        with (
            self.store.lock,
            self.db.write_connection() as connection,
            self.store.writing_on(connection),
        ):
            self.fence(connection)
            if not self.checked:  # before this leader writes a row of its format
                self._mark_checked(connection, None)
            for job_id in orphans:
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(job_id)
        self._rebuild(unloadable, missing)
        self.apply_pending()

    def check_the_rest(self) -> None:
        """After takeover, off the pass's way: rebuild the store rows due later than
        CHECK_AHEAD that this version cannot load (all of them are checked long before a
        pass would read them: 100,000 rows take about 15 s), then note that a leader of
        this format checked them all. Nothing to do when one had."""
        if self.checked:
            return
        try:
            later = self._unloadable_ids(due_after=self.checked_up_to, pause=True)
            self._rebuild(later, [])
            with self.db.write_connection() as connection:
                self.fence(connection)
                self._mark_checked(connection, self.format)
            self.checked = True
            logger.info("Every store row loads in this version (format %s)", self.format)
        except Exception:
            logger.exception("Checking the job store's rows failed; the next takeover will")

    @staticmethod
    def _mark_checked(connection: Connection, store_format: str | None) -> None:
        """Note which format's leader checked every store row (None: a check is due)."""
        state = SchedulerState.__table__
        row = upsert_insert(connection.dialect.name, state).values(
            id=1, paused=False, store_checked_by=store_format
        )
        connection.execute(
            row.on_conflict_do_update(
                index_elements=["id"], set_={"store_checked_by": store_format}
            )
        )

    def _rebuild(self, unloadable: set[str], missing: list) -> None:
        """Put back ``missing`` jobs, and the jobs of ``unloadable`` store rows (rows an
        earlier version wrote that this one cannot load, say a class that moved):
        APScheduler would drop those, and their jobs with them. Each is put back from
        ``jobs``, its source of truth."""
        if unloadable:
            logger.warning("Rebuilding %d store row(s) this version cannot load: %s",
                           len(unloadable), ", ".join(sorted(unloadable)[:10]))  # fmt: skip
            with (
                self.store.lock,
                self.db.write_connection() as connection,
                self.store.writing_on(connection),
            ):
                self.fence(connection)
                store = job_store_table
                connection.execute(store.delete().where(store.c.id.in_(unloadable)))
            with self.db.read() as session:
                missing = [
                    *missing,
                    *session.execute(
                        select(*_COLUMNS).where(
                            Job.id.in_(unloadable),
                            Job.deleted_at.is_(None),
                            Job.is_enabled,
                            ~Job.sync_pending,
                        )
                    ).all(),
                ]
        for start in range(0, len(missing), SYNC_BATCH):
            self._apply(missing[start : start + SYNC_BATCH], since_change=False)

    def _unloadable_ids(
        self,
        due_before: dt.datetime | None = None,
        due_after: dt.datetime | None = None,
        pause: bool = False,
    ) -> set[str]:
        """Store rows (due before or after a time) whose pickled state does not load."""
        store = job_store_table
        query = select(store.c.id, store.c.job_state)
        if due_before is not None:
            query = query.where(store.c.next_run_time <= due_before.timestamp())
        if due_after is not None:  # and the paused ones (no next run time)
            later = store.c.next_run_time > due_after.timestamp()
            query = query.where(later | store.c.next_run_time.is_(None))
        bad: set[str] = set()
        with self.db.read() as session:
            for batch in session.execute(query).yield_per(CHECK_BATCH).partitions():
                for job_id, state in batch:
                    try:
                        pickle.loads(state)
                    except Exception:
                        bad.add(job_id)
                if pause:
                    time.sleep(CHECK_PAUSE_SECONDS)
        return bad

    def _apply(self, rows, *, since_change: bool) -> None:
        """Put each job in the store as it is now (or take it out) and clear the flag of
        the versions applied, in one transaction under the store lock (a pass in between
        would drop the fires of a job still flagged). A job whose schedule this version
        cannot read is logged and left flagged; a database error fails the batch, which
        the next sync tries again."""
        applied = []
        with (
            self.store.lock,
            self.db.write_connection() as connection,
            self.store.writing_on(connection),
        ):
            self.fence(connection)
            for row in rows:
                try:
                    since = schedule_changed_at(row) if since_change else utcnow()
                    self._put(row, since)
                except (ValueError, LookupError):  # a schedule this version cannot read
                    logger.exception("Could not schedule job %r; will try again", row.id)
                    continue
                applied.append({"b_id": row.id, "b_version": row.version})
            if applied:
                connection.execute(_APPLIED, applied)
        if applied:
            self.on_applied()

    def _put(self, row, since: dt.datetime) -> None:
        schedule = Schedule(row.schedule_type, row.schedule_config, row.timezone)
        next_run = None
        if row.is_enabled and row.deleted_at is None:
            next_run = first_fire_after_change(schedule, since, row.misfire_grace_seconds)
        if next_run is None:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(row.id)
            return
        self.scheduler.add_job(
            fire,
            schedule.trigger(since),
            args=[row.id],
            id=row.id,
            name=row.id,
            misfire_grace_time=row.misfire_grace_seconds,
            next_run_time=next_run,
            replace_existing=True,
        )
