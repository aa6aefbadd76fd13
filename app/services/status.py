"""Scheduler status, health, schedule previews and the job type catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, text

from app.core.describe import schedule_description, schedule_warnings
from app.core.schedules import Schedule
from app.models import Execution, Job, schedule_changed_at
from app.runtime import Runtime
from app.services import calendars, pause
from app.services.job_reads import schedule_of
from app.services.jobs import resolve_schedule
from app.statuses import Status
from app.version import __version__


def scheduler_status(rt: Runtime) -> dict[str, Any]:
    """What GET /api/scheduler shows; counts come from the database, so any worker agrees."""
    with rt.db.read() as session:
        active = (
            session.execute(select(Execution.job_id).where(Execution.status == Status.RUNNING))
            .scalars()
            .all()
        )
        counts = session.execute(
            select(
                func.count(),
                func.sum(case((Job.deleted_at.is_(None) & Job.is_enabled, 1), else_=0)),
                func.sum(case((Job.deleted_at.is_(None) & ~Job.is_enabled, 1), else_=0)),
                func.sum(case((Job.deleted_at.is_not(None), 1), else_=0)),
            ).select_from(Job)
        ).one()
        queued = session.scalar(
            select(func.count()).select_from(Execution).where(Execution.status == Status.QUEUED)
        )
    total, enabled, disabled, deleted = (int(v or 0) for v in counts)
    return {
        "running": rt.scheduler.running_anywhere(),
        "active_executions": len(active),
        "active_job_ids": sorted(set(active)),
        "queued_executions": int(queued or 0),
        "max_concurrent": rt.settings.max_concurrent,
        "jobs": {
            "total": total - deleted,
            "enabled": enabled,
            "disabled": disabled,
            "deleted": deleted,
        },
        "timezone": rt.settings.timezone,
        "version": __version__,
        "uptime_seconds": rt.uptime_seconds,
        "this_process_leads": rt.scheduler.is_leader,
        "leader": rt.scheduler.leader_info(),
        **pause.state(rt),
    }


def scheduler_running(rt: Runtime) -> bool:
    """Whether a scheduler runs, in this process or another."""
    return rt.scheduler.running_anywhere()


def health(rt: Runtime) -> tuple[bool, dict[str, Any]]:
    """(healthy, details): the database answers and a scheduler runs."""
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    scheduler = database and rt.scheduler.running_anywhere()
    return database and scheduler, {
        "status": "ok" if database and scheduler else "unavailable",
        "database": "ok" if database else "unavailable",
        "scheduler": "running" if scheduler else "stopped",
    }


@dataclass
class Preview:
    schedule: str
    schedule_type: str
    schedule_config: dict[str, Any]
    timezone: str
    description: str
    next_run_times: list
    warnings: list[str]
    fires: list[dict[str, Any]] | None = None  # with calendars: each fire, excluded or not


def preview_schedule(rt: Runtime, data: dict[str, Any]) -> Preview:
    """Describe a schedule (either form) and list its next ``count`` fire times."""
    timezone = data.get("timezone") or rt.settings.timezone
    schedule = resolve_schedule(data, timezone)
    assert schedule is not None
    preview = _preview(schedule, data.get("count", 5))
    if data.get("calendars"):
        with rt.db.read() as session:
            listed = calendars.check_job_calendars(session, data["calendars"])
            preview.next_run_times, preview.fires = calendars.mark_fires(
                session, schedule, listed, data.get("count", 5)
            )
    return preview


def job_fires(job: Job, count: int) -> Preview:
    """A job's next ``count`` fire times as its schedule has them (an interval counts
    from the job's last schedule change, as the scheduler does), with the warnings."""
    return _preview(schedule_of(job), count, since=schedule_changed_at(job))


def _preview(schedule: Schedule, count: int, since: dt.datetime | None = None) -> Preview:
    return Preview(
        schedule=schedule.text,
        schedule_type=schedule.type,
        schedule_config=schedule.config,
        timezone=schedule.timezone,
        description=schedule_description(schedule),
        next_run_times=schedule.next_fire_times(count, since=since),
        warnings=schedule_warnings(schedule),
    )


def job_types(rt: Runtime) -> list[dict[str, Any]]:
    """Every registered type: name, description, whether enabled (and why not), schema."""
    result = []
    for name in rt.registry.names():
        job_type = rt.registry.types[name]
        enabled, why = rt.registry.is_enabled(name)
        result.append(
            {
                "name": name,
                "description": job_type.description,
                "enabled": enabled,
                "disabled_reason": why,
                "config_schema": job_type.config_schema,
            }
        )
    return result
