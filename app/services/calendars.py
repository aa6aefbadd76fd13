"""Calendars: made, changed and deleted by admins (each change audited); which jobs use
them; and what they do to a job's next run and to a schedule's preview.

The scheduler's pass skips a fire that one of its job's calendars excludes
(app/scheduler/intake.py): its row says ``calendar <id>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.calendars import (
    DAYS,
    Calendar,
    check_holidays,
    excluded_by,
    minutes_of,
    next_fire_outside,
)
from app.core.schedules import Schedule, get_timezone
from app.db import utcnow
from app.errors import Conflict, NotFound, Problems, ValidationFailed
from app.models import CalendarRow, Job, schedule_changed_at
from app.runtime import Runtime
from app.services import audit

FIELDS = ("name", "timezone", "dates", "holidays", "windows")
MAX_ITEMS = 1000


def _checked(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """The calendar's fields as stored, each refusal noted in ``problems``."""
    out = {k: data[k] for k in FIELDS if k in data}
    if "timezone" in data:
        problems.check(lambda: get_timezone(data["timezone"]))
    for index, text in enumerate(data.get("dates") or ()):
        try:
            dt.date.fromisoformat(text)
        except (TypeError, ValueError):
            problems.note({f"dates.{index}": [f"{text!r} is not a date (2026-12-25)."]})
    holidays = data.get("holidays")
    if holidays:
        try:
            check_holidays(holidays["country"], holidays.get("subdivision"))
        except ValueError as exc:
            problems.note({"holidays": [str(exc)]})
    for index, window in enumerate(data.get("windows") or ()):
        field = f"windows.{index}"
        try:
            if "days" in window:
                unknown = [d for d in window["days"] if d not in DAYS]
                if unknown or not window["days"]:
                    raise ValueError(f"days are some of {', '.join(DAYS)}.")
                if minutes_of(window["start"]) == minutes_of(window["end"]):
                    raise ValueError("start and end must differ.")
            else:
                start = dt.datetime.fromisoformat(window["start"])
                end = dt.datetime.fromisoformat(window["end"])
                if start.tzinfo is None or end.tzinfo is None:
                    raise ValueError("start and end need a UTC offset.")
                if end <= start:
                    raise ValueError("end must be after start.")
        except (KeyError, TypeError, ValueError) as exc:
            problems.note({field: [str(exc) if isinstance(exc, ValueError) else
                                   "A window has days, start and end (HH:MM), or start and "
                                   "end (ISO times)."]})  # fmt: skip
    return out


def shown(row: CalendarRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "timezone": row.timezone,
        "dates": list(row.dates or []),
        "holidays": row.holidays,
        "windows": list(row.windows or []),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def create_calendar(rt: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    problems = Problems()
    values = _checked(data, problems)
    problems.raise_if_any()
    now = utcnow()
    row = CalendarRow(
        id=data["id"], **{"dates": [], "windows": [], "holidays": None, **values},
        created_at=now, updated_at=now,
    )  # fmt: skip
    try:
        with rt.db.write() as session:
            session.add(row)
            session.flush()
            audit.record(
                session, "calendar.create", f"calendar:{row.id}",
                {k: [None, v] for k, v in values.items() if v},
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(
            f"Calendar id {data['id']!r} is already taken.", {"id": ["Already taken."]}
        ) from None
    return shown(row)


def _load(session: Any, calendar_id: str) -> CalendarRow:
    row = session.get(CalendarRow, calendar_id)
    if row is None:
        raise NotFound(f"Calendar {calendar_id!r} not found.")
    return row


def get_calendar(rt: Runtime, calendar_id: str) -> dict[str, Any]:
    with rt.db.read() as session:
        return shown(_load(session, calendar_id))


def list_calendars(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        return [shown(row) for row in session.scalars(select(CalendarRow).order_by(CalendarRow.id))]


def update_calendar(rt: Runtime, calendar_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given, leave the rest."""
    if not data:
        raise ValidationFailed("_body", "No fields to update.")
    problems = Problems()
    values = _checked(data, problems)
    problems.raise_if_any()
    with rt.db.write() as session:
        row = _load(session, calendar_id)
        changes = {k: [getattr(row, k), v] for k, v in values.items() if getattr(row, k) != v}
        for key, value in values.items():
            setattr(row, key, value)
        if changes:
            row.updated_at = utcnow()
            audit.record(session, "calendar.update", f"calendar:{calendar_id}", changes)
        return shown(row)


def users_of(session: Any, calendar_id: str) -> list[str]:
    """The ids of the live jobs whose calendars name ``calendar_id``."""
    rows = session.execute(
        select(Job.id, Job.calendars).where(Job.deleted_at.is_(None)).order_by(Job.id)
    )
    return [job_id for job_id, listed in rows if calendar_id in (listed or ())]


def usage(rt: Runtime) -> dict[str, list[str]]:
    """For each calendar a live job uses, those jobs' ids."""
    with rt.db.read() as session:
        rows = session.execute(select(Job.id, Job.calendars).where(Job.deleted_at.is_(None)))
        used: dict[str, list[str]] = {}
        for job_id, listed in rows:
            for calendar_id in listed or ():
                used.setdefault(calendar_id, []).append(job_id)
    return used


def delete_calendar(rt: Runtime, calendar_id: str) -> None:
    """Delete a calendar no live job uses (else 409 naming the jobs)."""
    with rt.db.write() as session:
        row = _load(session, calendar_id)
        using = users_of(session, calendar_id)
        if using:
            shown_ids = ", ".join(using[:10]) + (" and more" if len(using) > 10 else "")
            raise Conflict(
                f"Calendar {calendar_id!r} is used by job(s) {shown_ids}: take it out of "
                "their calendars first.",
                {"jobs": using[:100]},
            )
        session.delete(row)
        audit.record(
            session, "calendar.delete", f"calendar:{calendar_id}", {"id": [calendar_id, None]}
        )


def check_job_calendars(session: Any, ids: Sequence[str]) -> list[str]:
    """A job's ``calendars``, each an existing calendar (422 naming the unknown ones)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    known = set(session.scalars(select(CalendarRow.id).where(CalendarRow.id.in_(ids))))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValidationFailed("calendars", f"Unknown calendar(s): {', '.join(unknown)}.")
    return ids


def rules(session: Any, ids: Sequence[str]) -> dict[str, Calendar]:
    """The calendars named in ``ids``, ready to ask (by id)."""
    if not ids:
        return {}
    rows = session.scalars(select(CalendarRow).where(CalendarRow.id.in_(set(ids))))
    return {row.id: Calendar.of(shown(row)) for row in rows}


def next_runs(session: Any, jobs: Sequence[Any]) -> None:
    """Move each job's ``next_run_at`` past the fires its calendars exclude."""
    planned = [j for j in jobs if getattr(j, "calendars", None) and j.next_run_at is not None]
    if not planned:
        return
    known = rules(session, [i for job in planned for i in job.calendars])
    for job in planned:
        job.next_run_at = skip_excluded(known, job, job.next_run_at)


def skip_excluded(
    known: dict[str, Calendar], job: Any, first: dt.datetime | None
) -> dt.datetime | None:
    """The first fire of ``job`` from ``first`` on that its calendars (from ``known``,
    see :func:`rules`) do not exclude."""
    calendars = [known[i] for i in job.calendars or () if i in known]
    if first is None or not calendars:
        return first
    schedule = Schedule(job.schedule_type, job.schedule_config, job.timezone)
    return next_fire_outside(schedule.trigger(schedule_changed_at(job)), first, calendars)


def mark_fires(
    session: Any, schedule: Schedule, ids: Sequence[str], count: int
) -> tuple[list[dt.datetime], list[dict[str, Any]]]:
    """The next ``count`` fires that will run, and every fire up to the last of them
    with ``excluded_by`` (a calendar's id, or None)."""
    known = rules(session, ids)
    calendars = [known[i] for i in ids if i in known]
    fires: list[dict[str, Any]] = []
    running: list[dt.datetime] = []
    for moment in schedule.next_fire_times(count * 50 if calendars else count):
        by = excluded_by(calendars, moment)
        fires.append({"at": moment, "excluded_by": by})
        if by is None:
            running.append(moment)
            if len(running) >= count:
                break
    return running, fires
