"""Job operations shared by both HTTP APIs: the only place that changes jobs.

Every function takes the app's :class:`~app.runtime.Runtime` and plain values, raises
domain errors from :mod:`app.errors`, and tells the scheduler about a change after the
transaction commits (the leader applies it to the APScheduler store).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.core import schedules
from app.core.describe import schedule_description
from app.core.finals import Final, settle
from app.core.schedules import (
    Schedule,
    first_fire_after_change,
    make_schedule,
    schedule_from_text,
)
from app.db import utcnow
from app.errors import JobConflict, JobNotFound, ValidationFailed
from app.models import PLANNED_FIRE, Execution, Job, job_store_table, schedule_changed_at
from app.runtime import Runtime
from app.services import notifications, tags
from app.services.chains import CHAIN_FIELDS, check_chains
from app.services.placement import check_group
from app.statuses import Status

#: Fields a client may set, with their defaults on create.
DEFAULTS: dict[str, Any] = {
    "description": None,
    "configuration": None,
    "is_enabled": True,
    "max_duration_seconds": 300,
    "retry_count": 0,
    "retry_delay_seconds": 10,
    "overlap_policy": "skip",
    "misfire_grace_seconds": 60,
    "jitter_seconds": 0,
    "run_on": {},
}
#: Changing one of these changes what the APScheduler store must hold: the job is
#: rescheduled (and its fires written ahead are planned again). The rest of a job's
#: definition is read by the runner just before each run starts.
SCHEDULING_FIELDS = (
    "schedule_type",
    "schedule_config",
    "timezone",
    "is_enabled",
    "misfire_grace_seconds",
)
RECENT_EXECUTIONS = 10
#: The kinds of schedule a job may have.
SCHEDULE_TYPES = schedules.SCHEDULE_TYPES


@dataclass
class JobFilters:
    type: str | None = None
    is_enabled: bool | None = None
    last_status: str | None = None
    q: str | None = None
    include_deleted: bool = False
    tag: list[str] | None = None


def schedule_of(job: Any) -> Schedule:
    return Schedule(job.schedule_type, job.schedule_config, job.timezone)


def schedule_text(job: Job) -> str:
    """The job's schedule as one string (``"0 2 * * *"``, ``"15m"`` or an ISO time)."""
    return schedule_of(job).text


def describe_schedule(job: Job) -> str:
    """The job's schedule in words."""
    return schedule_description(schedule_of(job))


def resolve_schedule(
    data: dict[str, Any], timezone: str, current: Job | None = None
) -> Schedule | None:
    """The schedule a create or update asks for, or None when it names none.

    Either ``schedule`` (one string) or ``schedule_type`` + ``schedule_config``, never both.
    On update, ``schedule_config`` alone keeps the current type, and a new ``timezone``
    alone re-reads the current schedule in it.
    """
    has_text = data.get("schedule") is not None
    has_parts = data.get("schedule_type") is not None or data.get("schedule_config") is not None
    if has_text and has_parts:
        raise ValidationFailed(
            "schedule", "Give either schedule or schedule_type + schedule_config, not both."
        )
    if has_text:
        return schedule_from_text(data["schedule"], timezone)
    if has_parts:
        schedule_type = data.get("schedule_type") or (current.schedule_type if current else None)
        config = data.get("schedule_config")
        if config is None:
            if current is None or schedule_type != current.schedule_type:
                raise ValidationFailed(
                    "schedule_config", f"Required with schedule_type {schedule_type!r}."
                )
            config = current.schedule_config
        if schedule_type is None:
            raise ValidationFailed("schedule_type", "Required with schedule_config.")
        return make_schedule(schedule_type, config, timezone)
    if current is None:
        raise ValidationFailed(
            "schedule",
            "A schedule is required: give schedule (e.g. '0 2 * * *', '15m' or an ISO time) "
            "or schedule_type + schedule_config.",
        )
    if data.get("timezone") is not None and current.schedule_type == "cron":
        return make_schedule("cron", current.schedule_config, timezone)
    return None


def check_schedule_text(text: str, timezone: str, kinds: tuple[str, ...]) -> Schedule:
    """Parse a one-string schedule and refuse kinds the caller does not offer."""
    schedule = schedule_from_text(text, timezone)
    if schedule.type not in kinds:
        raise ValidationFailed(
            "schedule", f"Expected a {' or '.join(kinds)} schedule, not {schedule.type}."
        )
    return schedule


def _attach_next_run(
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
_JOB_INSERT = insert(Job.__table__)
_JOB_COLUMNS = tuple(column.key for column in Job.__table__.columns)
_ONE_JOB = _JOBS_SELECT.where(Job.id == bindparam("job_id"))
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
    return _attach_next_run(*row)


def get_job(rt: Runtime, job_id: str, *, include_deleted: bool = False) -> Job:
    with rt.db.read() as session:
        job = load_job(session, job_id, include_deleted=include_deleted)
        tags.attach(session, [job])
        return job


def get_job_with_recent(rt: Runtime, job_id: str) -> tuple[Job, list[Execution]]:
    """The job and its newest executions (for GET /api/jobs/{id})."""
    with rt.db.read() as session:
        job = load_job(session, job_id)
        tags.attach(session, [job])
        recent = list(session.scalars(_RECENT, {"job_id": job_id}).all())
        notifications.attach(session, recent)
        return job, recent


def list_jobs(rt: Runtime, filters: JobFilters, page: int, page_size: int) -> tuple[list[Any], int]:
    """A page of jobs (oldest first) and the total matching the filters."""
    conditions = []
    if not filters.include_deleted:
        conditions.append(Job.deleted_at.is_(None))
    if filters.type is not None:
        conditions.append(Job.type == filters.type)
    if filters.is_enabled is not None:
        conditions.append(Job.is_enabled.is_(filters.is_enabled))
    if filters.last_status is not None:
        conditions.append(Job.last_status == filters.last_status)
    if filters.tag:
        conditions.append(tags.having_all(filters.tag))
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Job.name.ilike(f"%{escaped}%", escape="\\"))
    with rt.db.read() as session:
        if len(conditions) == 1 and not filters.include_deleted:
            # All jobs less the deleted ones: SQLite counts a whole table from its pages
            # and the deleted ones from the index, instead of walking every live entry
            # (0.2 ms against 4 at 100,000 jobs).
            total = session.scalar(_ALL_JOBS) - session.scalar(_DELETED_JOBS)
        else:
            total = session.scalar(select(func.count()).select_from(Job).where(*conditions))
        # The page's ids first (an index walk), then only those rows with their store
        # and planned-fire lookups: SQLite would otherwise join every row it skips.
        page_ids = (
            select(Job.id)
            .where(*conditions)
            .order_by(Job.created_at, Job.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        rows = session.connection().execute(
            _LISTED.where(Job.id.in_(page_ids.scalar_subquery())).order_by(Job.created_at, Job.id),
            {"now": utcnow()},
        )
        found = [_listed(row) for row in rows.mappings()]
        tags.attach(session, found)
        return found, int(total or 0)


def _listed(row: Mapping[str, Any]) -> Any:
    """A listed job: its columns as attributes (a Job's, read without the ORM's
    bookkeeping, which costs more than the query for a page), and next_run_at."""
    job = SimpleNamespace(**row)
    job.next_run_at = next_run_of(job, row["next_run_time"], row["planned_at"])
    return job


def create_job(rt: Runtime, data: dict[str, Any]) -> Job:
    """Validate and store a new job, then schedule it."""
    timezone = data.get("timezone") or rt.settings.timezone
    schedule = resolve_schedule(data, timezone)
    assert schedule is not None
    configuration = rt.registry.validate(data["type"], data.get("configuration"))
    notify = notifications.check_notify(data.get("notify"))
    job_id = data.get("id") or str(uuid.uuid4())
    job_tags = tags.normalized(data.get("tags"))
    chains = {field: list(data.get(field) or []) for field in CHAIN_FIELDS}
    if any(chains.values()):  # a read only for a job that chains
        with rt.db.read() as session:
            chains = check_chains(session, job_id, chains)
    now = utcnow()
    values = {column: None for column in _JOB_COLUMNS}
    values.update(
        id=job_id,
        name=data["name"],
        type=data["type"],
        configuration=configuration,
        notify=notify,
        failing=False,
        schedule_type=schedule.type,
        schedule_config=schedule.config,
        timezone=timezone,
        run_count=0,
        success_count=0,
        fail_count=0,
        created_at=now,
        updated_at=now,
        version=1,
        sync_pending=True,
        **chains,
    )
    for key, default in DEFAULTS.items():
        if key != "configuration":
            values[key] = data.get(key, default) if data.get(key) is not None else default
    values["concurrency_group"] = check_group(rt.settings, data.get("concurrency_group"))
    try:
        # Core, not the ORM: a create is one INSERT, and the unit of work would cost more
        # than the rest of the request. The leader puts the job in its store.
        with rt.db.write_connection() as connection:
            connection.execute(_JOB_INSERT, values)
            tags.write_tags(connection, job_id, job_tags, replace=False)
    except IntegrityError:
        with rt.db.read() as session:
            existing = session.get(Job, values["id"])
        deleted = existing is not None and existing.deleted_at is not None
        hint = " by a deleted job (restore it, or choose another id)" if deleted else ""
        raise JobConflict(
            f"Job id {values['id']!r} is already taken{hint}.", {"id": ["Already taken."]}
        ) from None
    rt.scheduler.job_changed()
    # The answer is the row just written (no read back), never added to a session.
    job = Job(**values)
    job.tags = job_tags
    return _attach_next_run(job, None)


def update_job(
    rt: Runtime, job_id: str, changes: dict[str, Any], *, merge_configuration: bool = False
) -> Job:
    """Apply the given fields, leave the rest; re-validate what they affect.

    ``merge_configuration`` merges the given configuration keys into the current ones
    (the cron API sets agent_id, payload and session_mode one at a time).
    """
    if not changes:
        raise ValidationFailed("_body", "No fields to update.")
    with rt.db.write() as session:
        job = load_job(session, job_id)
        before = {f: getattr(job, f) for f in SCHEDULING_FIELDS}
        timezone = changes.get("timezone") or job.timezone
        schedule = resolve_schedule(changes, timezone, current=job)
        new_type = changes.get("type") or job.type
        if "configuration" in changes or new_type != job.type:
            config = changes.get("configuration")
            if config is None or (merge_configuration and isinstance(config, dict)):
                config = {**(job.configuration or {}), **(config or {})}
            job.configuration = rt.registry.validate(new_type, config)
            job.type = new_type
        if schedule is not None:
            job.schedule_type, job.schedule_config = schedule.type, schedule.config
        job.timezone = timezone
        for key in (*DEFAULTS, "name"):
            if key != "configuration" and changes.get(key) is not None:
                setattr(job, key, changes[key])
        if "description" in changes and changes["description"] is None:
            job.description = None
        if "concurrency_group" in changes:
            job.concurrency_group = check_group(rt.settings, changes["concurrency_group"])
        if "notify" in changes:
            job.notify = notifications.check_notify(changes["notify"], job.notify)
        asked = {f: changes[f] for f in CHAIN_FIELDS if changes.get(f) is not None}
        if asked:
            for field, ids in check_chains(session, job_id, asked).items():
                setattr(job, field, ids)
        if changes.get("tags") is not None:
            tags.write_tags(session, job_id, tags.normalized(changes["tags"]), replace=True)
        job.updated_at = utcnow()
        rescheduled = schedule is not None or any(getattr(job, f) != v for f, v in before.items())
        if rescheduled:
            rt.scheduler.reschedule(session, job)
    if rescheduled:
        rt.scheduler.job_changed()
    return get_job(rt, job_id)


def _change_state(rt: Runtime, job_id: str, *, include_deleted: bool, apply) -> None:
    """Run ``apply(session, job)``; when it reports a change, reschedule the job."""
    with rt.db.write() as session:
        job = load_job(session, job_id, include_deleted=include_deleted)
        changed = apply(session, job)
        if changed:
            job.updated_at = utcnow()
            rt.scheduler.reschedule(session, job)
    if changed:
        rt.scheduler.job_changed()


def set_enabled(rt: Runtime, job_id: str, enabled: bool) -> Job:
    """Enable or disable; idempotent (no change, no effect). Running runs finish."""

    def apply(_session, job: Job) -> bool:
        if job.is_enabled == enabled:
            return False
        job.is_enabled = enabled
        return True

    _change_state(rt, job_id, include_deleted=False, apply=apply)
    return get_job(rt, job_id)


def delete_job(rt: Runtime, job_id: str) -> None:
    """Soft delete: unschedule, hide from reads, keep history; queued runs are cancelled."""
    cancelled: list[int] = []

    def apply(session, job: Job) -> bool:
        now = utcnow()
        job.deleted_at = now
        # Fires planned ahead are withdrawn, not cancelled: a restore plans them again.
        rt.scheduler.withdraw_planned(session, job_id)
        cancelled.extend(
            session.scalars(
                update(Execution)
                .where(Execution.job_id == job_id, Execution.status == Status.QUEUED)
                .values(status=Status.CANCELLED, finished_at=now, error="The job was deleted.")
                .returning(Execution.id)
            ).all()
        )
        finals = [Final(execution_id, job_id, Status.CANCELLED) for execution_id in cancelled]
        settle(session.connection(), finals, rt.settings)
        return True

    _change_state(rt, job_id, include_deleted=False, apply=apply)
    for execution_id in cancelled:  # drop them from this process's ready queue too
        rt.scheduler.cancel(execution_id)


def restore_job(rt: Runtime, job_id: str) -> Job:
    """Undo a soft delete (scheduled again if enabled); restoring a live job is a no-op."""

    def apply(_session, job: Job) -> bool:
        if job.deleted_at is None:
            return False
        job.deleted_at = None
        return True

    _change_state(rt, job_id, include_deleted=True, apply=apply)
    return get_job(rt, job_id)
