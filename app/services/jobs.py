"""Job operations shared by both HTTP APIs: the only place that changes jobs.

Every function takes the app's :class:`~app.runtime.Runtime` and plain values, raises
domain errors from :mod:`app.errors`, and tells the scheduler about a change after the
transaction commits (the leader applies it to the APScheduler store).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from app.core import schedules
from app.core.finals import Final, settle
from app.core.schedules import (
    Schedule,
    get_timezone,
    make_schedule,
    schedule_from_text,
)
from app.db import utcnow
from app.errors import JobConflict, Problems, ValidationFailed
from app.models import Execution, Job
from app.runtime import Runtime
from app.services import calendars, notifications, pings, revisions, secrets, tags
from app.services.chains import CHAIN_FIELDS, check_chains
from app.services.job_reads import attach_next_run, get_job, load_job
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
    "expected_duration_seconds": None,
}
#: Changing one of these changes what the APScheduler store must hold: the job is
#: rescheduled (and its fires written ahead are planned again). The rest of a job's
#: definition is read by the runner just before each run starts.
SCHEDULING_FIELDS = (
    "calendars",
    "schedule_type",
    "schedule_config",
    "timezone",
    "is_enabled",
    "misfire_grace_seconds",
)
#: The kinds of schedule a job may have.
SCHEDULE_TYPES = schedules.SCHEDULE_TYPES


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


@dataclass
class _Checked:
    """A job's fields as the checks give them back."""

    timezone: str
    schedule: Schedule | None = None
    configuration: dict[str, Any] | None = None
    notify: dict[str, Any] | None = None
    chains: dict[str, list[str]] = field(default_factory=dict)
    group: str | None = None
    calendars: list[str] = field(default_factory=list)


def _check_fields(
    rt: Runtime, data: dict[str, Any], job_id: str, problems: Problems, current: Job | None = None
) -> _Checked:
    """Every check of a new job's fields (with ``current``: of the fields ``data``
    gives), each refusal noted in ``problems`` rather than raised."""
    creating = current is None
    zone = data.get("timezone") or (current.timezone if current else rt.settings.timezone)
    timezone = _checked_timezone(problems, zone)
    checked = _Checked(timezone)
    if creating or any(data.get(k) is not None for k in ("schedule", "schedule_type", "timezone")):
        checked.schedule = problems.check(lambda: resolve_schedule(data, timezone, current))
    job_type = data.get("type") or (current.type if current else None)
    if job_type and (creating or "configuration" in data):
        checked.configuration = problems.check(
            lambda: rt.registry.validate(job_type, data.get("configuration"))
        )
    if creating or data.get("notify") is not None:
        checked.notify = problems.check(lambda: notifications.check_notify(data.get("notify")))
    checked.chains = {name: list(data.get(name) or []) for name in CHAIN_FIELDS}
    if any(checked.chains.values()):  # a read only for a job that chains
        asked = checked.chains
        with rt.db.read() as session:
            checked.chains = problems.check(lambda: check_chains(session, job_id, asked), asked)
    if creating or data.get("concurrency_group") is not None:
        group = data.get("concurrency_group")
        checked.group = problems.check(lambda: check_group(rt.settings, group))
    if data.get("calendars"):
        with rt.db.read() as session:
            listed = data["calendars"]
            checked.calendars = problems.check(
                lambda: calendars.check_job_calendars(session, listed), []
            )
    return checked


def field_problems(rt: Runtime, data: dict[str, Any], current: Job | None = None) -> dict:
    """What the services would refuse of ``data``'s fields, all at once, changing nothing:
    for a form some of whose fields the schema refused already (the others are in
    ``data``), so that one Save shows every error."""
    problems = Problems()
    job_id = current.id if current else data.get("id") or ""
    _check_fields(rt, data, job_id, problems, current)
    return problems.errors


def _checked_timezone(problems: Problems, name: str) -> str:
    """``name``, or UTC with its refusal noted: the schedule is still checked."""
    return name if problems.check(lambda: get_timezone(name)) is not None else "UTC"


_JOB_INSERT = insert(Job.__table__)
_JOB_COLUMNS = tuple(column.key for column in Job.__table__.columns)


def create_job(rt: Runtime, data: dict[str, Any]) -> Job:
    """Validate and store a new job, then schedule it."""
    job_id = data.get("id") or str(uuid.uuid4())
    problems = Problems()  # every field's refusal in one answer
    checked = _check_fields(rt, data, job_id, problems)
    problems.raise_if_any()
    schedule, timezone, chains = checked.schedule, checked.timezone, checked.chains
    assert schedule is not None
    job_tags = tags.normalized(data.get("tags"))
    now = utcnow()
    values = {column: None for column in _JOB_COLUMNS}
    values.update(
        id=job_id,
        name=data["name"],
        type=data["type"],
        configuration=checked.configuration,
        notify=checked.notify,
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
        revision=1,
        sync_pending=True,
        **chains,
    )
    for key, default in DEFAULTS.items():
        if key != "configuration":
            values[key] = data.get(key, default) if data.get(key) is not None else default
    values["concurrency_group"] = checked.group
    values["calendars"] = checked.calendars
    values["ping_key"] = pings.key_for(data["type"], None)
    try:
        # Core, not the ORM: a create is one INSERT, and the unit of work would cost more
        # than the rest of the request. The leader puts the job in its store.
        with rt.db.write_connection() as connection:
            connection.execute(_JOB_INSERT, values)
            tags.write_tags(connection, job_id, job_tags, replace=False)
            after = revisions.definition(values, job_tags)
            revisions.record(connection, job_id, None, after, "job.create")
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
    attach_next_run(job, None)
    if job.calendars:  # the next fire that will run
        with rt.db.read() as session:
            calendars.next_runs(session, [job])
    return job


def update_job(
    rt: Runtime,
    job_id: str,
    changes: dict[str, Any],
    *,
    merge_configuration: bool = False,
    action: str = "job.update",
) -> Job:
    """Apply the given fields, leave the rest; re-validate what they affect.

    ``merge_configuration`` merges the given configuration keys into the current ones
    (the cron API sets agent_id, payload and session_mode one at a time). A secret sent
    back masked keeps its stored value. A change writes a revision and an ``action``
    audit entry.
    """
    if not changes:
        raise ValidationFailed("_body", "No fields to update.")
    with rt.db.write() as session:
        job = load_job(session, job_id)
        tags.attach(session, [job])
        was = revisions.definition(job, job.tags)
        before = {f: getattr(job, f) for f in SCHEDULING_FIELDS}
        problems = Problems()  # every field's refusal in one answer
        timezone = _checked_timezone(problems, changes.get("timezone") or job.timezone)
        schedule = problems.check(lambda: resolve_schedule(changes, timezone, current=job))
        new_type = changes.get("type") or job.type
        if "configuration" in changes or new_type != job.type:
            config = secrets.keep_stored(changes.get("configuration"), job.configuration)
            if config is None or (merge_configuration and isinstance(config, dict)):
                config = {**(job.configuration or {}), **(config or {})}
            valid = problems.check(lambda: rt.registry.validate(new_type, config))
            if valid is not None:
                job.configuration, job.type = valid, new_type
                job.ping_key = pings.key_for(new_type, job.ping_key)
        if "concurrency_group" in changes:
            group = changes["concurrency_group"]
            job.concurrency_group = problems.check(lambda: check_group(rt.settings, group))
        if "notify" in changes:
            current = job.notify
            job.notify = problems.check(
                lambda: notifications.check_notify(changes["notify"], current), current
            )
        if changes.get("calendars") is not None:
            listed = changes["calendars"]
            job.calendars = problems.check(
                lambda: calendars.check_job_calendars(session, listed), job.calendars
            )
        asked = {f: changes[f] for f in CHAIN_FIELDS if changes.get(f) is not None}
        if asked:
            chains = problems.check(lambda: check_chains(session, job_id, asked), {})
            for name, ids in chains.items():
                setattr(job, name, ids)
        problems.raise_if_any()  # (the session's changes are rolled back)
        if schedule is not None:
            job.schedule_type, job.schedule_config = schedule.type, schedule.config
        job.timezone = timezone
        for key in (*DEFAULTS, "name"):
            if key != "configuration" and changes.get(key) is not None:
                setattr(job, key, changes[key])
        for nullable in ("description", "expected_duration_seconds"):
            if nullable in changes and changes[nullable] is None:
                setattr(job, nullable, None)
        job_tags = job.tags
        if changes.get("tags") is not None:
            job_tags = tags.normalized(changes["tags"])
            tags.write_tags(session, job_id, job_tags, replace=True)
        job.updated_at = utcnow()
        session.flush()
        revisions.record(session, job_id, was, revisions.definition(job, job_tags), action)
        rescheduled = schedule is not None or any(getattr(job, f) != v for f, v in before.items())
        if rescheduled:
            rt.scheduler.reschedule(session, job)
    if rescheduled:
        rt.scheduler.job_changed()
    return get_job(rt, job_id)


def _change_state(rt: Runtime, job_id: str, action: str, *, include_deleted: bool, apply) -> None:
    """Run ``apply(session, job)``; when it reports a change, reschedule the job and
    write its revision and ``action`` audit entry."""
    with rt.db.write() as session:
        job = load_job(session, job_id, include_deleted=include_deleted)
        tags.attach(session, [job])
        was = revisions.definition(job, job.tags)
        changed = apply(session, job)
        if changed:
            job.updated_at = utcnow()
            rt.scheduler.reschedule(session, job)
            session.flush()
            revisions.record(session, job_id, was, revisions.definition(job, job.tags), action)
    if changed:
        rt.scheduler.job_changed()


def set_enabled(rt: Runtime, job_id: str, enabled: bool) -> Job:
    """Enable or disable; idempotent (no change, no effect). Running runs finish."""

    def apply(_session, job: Job) -> bool:
        if job.is_enabled == enabled:
            return False
        job.is_enabled = enabled
        return True

    action = "job.enable" if enabled else "job.disable"
    _change_state(rt, job_id, action, include_deleted=False, apply=apply)
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

    _change_state(rt, job_id, "job.delete", include_deleted=False, apply=apply)
    for execution_id in cancelled:  # drop them from this process's ready queue too
        rt.scheduler.cancel(execution_id)


def restore_job(rt: Runtime, job_id: str) -> Job:
    """Undo a soft delete (scheduled again if enabled); restoring a live job is a no-op."""

    def apply(_session, job: Job) -> bool:
        if job.deleted_at is None:
            return False
        job.deleted_at = None
        return True

    _change_state(rt, job_id, "job.restore", include_deleted=True, apply=apply)
    return get_job(rt, job_id)


def restore_revision(rt: Runtime, job_id: str, number: int) -> Job:
    """Make the job's definition that of revision ``number``, as a new revision (its
    deleted or live state stays as it is)."""
    old = revisions.get_revision(rt, job_id, number).definition
    changes = {name: old.get(name) for name in revisions.FIELDS if name != "schedule_type"}
    changes["schedule_type"] = old["schedule_type"]
    changes["tags"] = old.get("tags") or []
    return update_job(rt, job_id, changes, action="job.restore_revision")
