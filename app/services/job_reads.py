"""Reading jobs, for both APIs, the UI and /metrics: one job, a page of jobs, a job's
next run (the store's time, or a fire already written ahead) and its schedule in words.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select

from app.core.describe import schedule_description
from app.core.schedules import Schedule, first_fire_after_change
from app.db import utcnow
from app.errors import JobNotFound
from app.models import PLANNED_FIRE, Execution, Job, job_store_table, schedule_changed_at
from app.runtime import Runtime
from app.services import calendars, notifications, tags
from app.statuses import Status

RECENT_EXECUTIONS = 10


@dataclass
class JobFilters:
    type: str | None = None
    is_enabled: bool | None = None
    last_status: str | None = None
    q: str | None = None  # in the name (and the id, with q_in_id: the UI's search)
    q_in_id: bool = False
    include_deleted: bool = False
    tag: list[str] | None = None
    sort: str = "created"  # one of SORTS
    #: Mark each listed job ``running`` (a run of it is going on): the UI's list shows it.
    mark_running: bool = False


_STORE_NEXT = job_store_table.c.next_run_time
_UP, _DOWN = True, False
#: The orders a page of jobs can come in (a leading "-": the other way): the terms, each
#: with its direction.
_ORDERS = {
    "created": ((Job.created_at, _UP), (Job.id, _UP)),
    "name": ((func.lower(Job.name), _UP), (Job.id, _UP)),
    "-name": ((func.lower(Job.name), _DOWN), (Job.id, _UP)),
    "next_run": ((_STORE_NEXT.is_(None), _UP), (_STORE_NEXT, _UP), (Job.id, _UP)),
    "last_run": ((Job.last_run_at.is_(None), _UP), (Job.last_run_at, _DOWN), (Job.id, _UP)),
}
SORTS = {name: tuple(t.asc() if up else t.desc() for t, up in o) for name, o in _ORDERS.items()}
#: Each order end to start (the id last in each makes it total: exactly the reverse).
_REVERSED = {name: tuple(t.desc() if up else t.asc() for t, up in o) for name, o in _ORDERS.items()}


def schedule_of(job: Any) -> Schedule:
    return Schedule(job.schedule_type, job.schedule_config, job.timezone)


def schedule_text(job: Job) -> str:
    """The job's schedule as one string (``"0 2 * * *"``, ``"15m"`` or an ISO time)."""
    return schedule_of(job).text


def describe_schedule(job: Job) -> str:
    """The job's schedule in words."""
    return schedule_description(schedule_of(job))


def attach_next_run(
    job: Job, next_run_time: float | None, planned: dt.datetime | None = None
) -> Job:
    job.next_run_at = next_run_of(job, next_run_time, planned)
    return job


def next_run_of(
    job: Any, next_run_time: float | None, planned: dt.datetime | None = None
) -> dt.datetime | None:
    """A job's next run (``job``: a Job or a row with its columns): the store's
    next_run_time joined in the query, or a fire already written ahead of its time
    (``planned``), whichever comes first."""
    if not job.is_enabled or job.deleted_at is not None:
        return None
    if job.sync_pending:
        # A change the leader has not applied yet (the store's row, if any, is older):
        # the time the store will hold.
        stored = _next_run_after_change(job)
    elif next_run_time is not None:
        stored = dt.datetime.fromtimestamp(next_run_time, dt.UTC)
    else:
        stored = None
    times = [t for t in (stored, planned) if t is not None]
    return min(times) if times else None


def _next_run_after_change(job: Any) -> dt.datetime | None:
    """The next run the store holds (or will) once ``job``'s last change is applied."""
    return first_fire_after_change(
        schedule_of(job), schedule_changed_at(job), job.misfire_grace_seconds
    )


def jobs_select(*entities: Any) -> Select:
    """Jobs (``entities``: Job, or some of its columns) with the store's next run time
    and their earliest fire written ahead (after the ``now`` parameter), the arguments of
    :func:`next_run_of`. Build it once: building it and its cache key cost more than
    running it."""
    store = job_store_table
    planned = (
        select(func.min(Execution.scheduled_at))
        .where(Execution.job_id == Job.id, *PLANNED_FIRE, Execution.scheduled_at > bindparam("now"))
        .correlate(Job)
        .scalar_subquery()
    )
    return select(
        *(entities or (Job,)), store.c.next_run_time, planned.label("planned_at")
    ).outerjoin(store, store.c.id == Job.id)


_JOBS_SELECT = jobs_select()
_LISTED = jobs_select(*Job.__table__.columns)
_ALL_JOBS = select(func.count()).select_from(Job)
_DELETED_JOBS = select(func.count()).select_from(Job).where(Job.deleted_at.is_not(None))
_ONE_JOB = _JOBS_SELECT.where(Job.id == bindparam("job_id"))
_RUNNING_OF = (
    select(Execution.job_id)
    .where(
        Execution.job_id.in_(bindparam("ids", expanding=True)),
        Execution.status == Status.RUNNING,
    )
    .distinct()
)
_RECENT = (
    select(Execution)
    .where(Execution.job_id == bindparam("job_id"))
    .order_by(Execution.id.desc())
    .limit(RECENT_EXECUTIONS)
)


def load_job(session, job_id: str, *, include_deleted: bool = False) -> Job:
    """The job with its next run time, in ``session``; JobNotFound if unknown or deleted."""
    row = session.execute(_ONE_JOB, {"job_id": job_id, "now": utcnow()}).first()
    if row is None or (row[0].deleted_at is not None and not include_deleted):
        raise JobNotFound(job_id)
    return attach_next_run(*row)


def get_job(rt: Runtime, job_id: str, *, include_deleted: bool = False) -> Job:
    with rt.db.read() as session:
        job = load_job(session, job_id, include_deleted=include_deleted)
        tags.attach(session, [job])
        calendars.next_runs(session, [job])
        return job


def get_job_with_recent(rt: Runtime, job_id: str) -> tuple[Job, list[Execution]]:
    """The job and its newest executions (for GET /api/jobs/{id})."""
    with rt.db.read() as session:
        job = load_job(session, job_id)
        tags.attach(session, [job])
        calendars.next_runs(session, [job])
        recent = list(session.scalars(_RECENT, {"job_id": job_id}).all())
        notifications.attach(session, recent)
        return job, recent


def list_jobs(rt: Runtime, filters: JobFilters, page: int, page_size: int) -> tuple[list[Any], int]:
    """A page of jobs (oldest first) and the total matching the filters."""
    count, listing, from_end = _page_statements(_Shape.of(filters))
    wanted_tags = sorted(set(filters.tag or ()))
    values: dict[str, Any] = {
        "now": utcnow(),
        "offset": (page - 1) * page_size,
        "limit": page_size,
        "type": filters.type,
        "is_enabled": filters.is_enabled,
        "last_status": filters.last_status,
        "tags": wanted_tags,
        "tag_count": len(wanted_tags),
    }
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        values["pattern"] = f"%{escaped}%"
    with rt.db.read() as session:
        connection = session.connection()
        total = int(connection.execute(count, values).scalar() or 0)
        offset = values["offset"]
        if offset * 2 > total:
            # Nearer the end: walk the order from there (an OFFSET reads every entry it
            # skips, so the deepest page reads half the index, not all of it).
            listing = from_end
            values["offset"] = max(0, total - offset - page_size)
            values["limit"] = min(page_size, total - offset)
        rows = connection.execute(listing, values).mappings() if offset < total else ()
        found = [_listed(row) for row in rows]
        tags.attach(session, found)
        calendars.next_runs(session, found)
        if filters.mark_running:
            ids = [job.id for job in found]
            running = set(connection.execute(_RUNNING_OF, {"ids": ids}).scalars())
            for job in found:
                job.running = job.id in running
        return found, total


@dataclass(frozen=True)
class _Shape:
    """Which filters a list has (not their values) and its order."""

    include_deleted: bool
    type: bool
    is_enabled: bool
    last_status: bool
    tag: bool
    q: bool
    q_in_id: bool
    sort: str

    @classmethod
    def of(cls, filters: JobFilters) -> _Shape:
        return cls(
            filters.include_deleted,
            filters.type is not None,
            filters.is_enabled is not None,
            filters.last_status is not None,
            bool(filters.tag),
            bool(filters.q),
            filters.q_in_id,
            filters.sort if filters.sort in SORTS else "created",
        )


@functools.lru_cache(maxsize=128)
def _page_statements(shape: _Shape) -> tuple[Select, Select, Select]:
    """The count and the page of a list of this shape, the page's ids picked from the
    start or from the end of the order, with every value a parameter: built (and their
    cache keys made) once, not at each call."""
    conditions: list[Any] = []
    if not shape.include_deleted:
        conditions.append(Job.deleted_at.is_(None))
    if shape.type:
        conditions.append(Job.type == bindparam("type"))
    if shape.is_enabled:
        conditions.append(Job.is_enabled == bindparam("is_enabled"))
    if shape.last_status:
        conditions.append(Job.last_status == bindparam("last_status"))
    if shape.tag:
        conditions.append(tags.having_all())
    if shape.q:
        matched = Job.name.ilike(bindparam("pattern"), escape="\\")
        if shape.q_in_id:
            matched = or_(matched, Job.id.ilike(bindparam("pattern"), escape="\\"))
        conditions.append(matched)
    if len(conditions) == 1 and not shape.include_deleted:
        # All jobs less the deleted ones: SQLite counts a whole table from its pages
        # and the deleted ones from the index, instead of walking every live entry
        # (0.2 ms against 4 at 100,000 jobs).
        count = select(_ALL_JOBS.scalar_subquery() - _DELETED_JOBS.scalar_subquery())
    else:
        count = select(func.count()).select_from(Job).where(*conditions)
    # The page's ids first (an index walk), then only those rows with their store and
    # planned-fire lookups: SQLite would otherwise join every row it skips.
    order = SORTS[shape.sort]
    ids = select(Job.id).where(*conditions)
    if shape.sort == "next_run":
        ids = ids.outerjoin(job_store_table, job_store_table.c.id == Job.id)
    pages = []
    for walk in (order, _REVERSED[shape.sort]):
        page_ids = ids.order_by(*walk).offset(bindparam("offset")).limit(bindparam("limit"))
        pages.append(_LISTED.where(Job.id.in_(page_ids.scalar_subquery())).order_by(*order))
    return count, *pages


def _listed(row: Mapping[str, Any]) -> Any:
    """A listed job: its columns as attributes (a Job's, read without the ORM's
    bookkeeping, which costs more than the query for a page), and next_run_at."""
    job = SimpleNamespace(**row)
    job.next_run_at = next_run_of(job, row["next_run_time"], row["planned_at"])
    return job
