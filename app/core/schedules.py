"""Schedules: a job's cron, interval or one-shot definition, validated and made a trigger.

A :class:`Schedule` is what a job stores (type, canonical config, timezone) and what makes
the APScheduler trigger the store keeps; :func:`make_schedule` and
:func:`schedule_from_text` validate what a client sends. Crontab parsing is in
:mod:`app.core.cron`, descriptions and warnings in :mod:`app.core.describe`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.core.cron import CrontabTrigger, parse_cron
from app.errors import InvalidSchedule, ValidationFailed

UTC = dt.UTC
SCHEDULE_TYPES = ("cron", "interval", "once")
_INTERVAL_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_INTERVAL_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
MAX_INTERVAL_SECONDS = 366 * 86400


def get_timezone(name: str | None, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name``; :class:`ValidationFailed` naming ``field`` if unknown."""
    if not name or not isinstance(name, str):
        raise ValidationFailed(field, "Not a valid IANA timezone name.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationFailed(
            field, f"Unknown timezone {name!r}; use an IANA name like 'Europe/Paris'."
        ) from None


def parse_interval(every: str) -> int:
    """Seconds in an interval like ``15m``, ``1h30m``, ``90s`` or ``1d``."""
    if not isinstance(every, str):
        raise InvalidSchedule("An interval is a string like '15m' or '1h30m'.")
    text = every.strip().lower()
    match = _INTERVAL_RE.match(text)
    if not text or not match:
        raise InvalidSchedule(
            f"Invalid interval {every!r}: use a number and unit (s, m, h, d), "
            "combinable in that order, e.g. '15m' or '1h30m'."
        )
    seconds = sum(
        int(value) * unit
        for value, (_, unit) in zip(match.groups(), _INTERVAL_UNITS, strict=True)
        if value
    )
    if seconds <= 0:
        raise InvalidSchedule(f"Invalid interval {every!r}: it must be longer than 0 seconds.")
    if seconds > MAX_INTERVAL_SECONDS:
        raise InvalidSchedule(f"Invalid interval {every!r}: at most 366 days.")
    return seconds


def format_interval(seconds: int) -> str:
    """The canonical shorthand of an interval (``5400`` -> ``1h30m``)."""
    parts = []
    for unit, size in _INTERVAL_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_run_at(value: Any, tz: ZoneInfo) -> dt.datetime:
    """An ISO-8601 time; one without a UTC offset is read in the job's timezone."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidSchedule(
                f"Invalid time {value!r}: use ISO-8601, e.g. '2026-12-01T09:00:00+00:00'."
            ) from None
    else:
        raise InvalidSchedule("run_at must be an ISO-8601 string.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its type, canonical config and one-string form."""

    type: str
    config: dict[str, Any]
    timezone: str

    @property
    def text(self) -> str:
        if self.type == "cron":
            return self.config["expression"]
        if self.type == "interval":
            return self.config["every"]
        return self.config["run_at"]

    def trigger(self, since: dt.datetime | None = None) -> BaseTrigger:
        """A fresh APScheduler trigger; an interval counts from ``since`` (default: now)."""
        if self.type == "cron":
            return CrontabTrigger(self.config["expression"], self.timezone)
        if self.type == "interval":
            seconds = parse_interval(self.config["every"])
            start = (since or dt.datetime.now(UTC)) + dt.timedelta(seconds=seconds)
            return IntervalTrigger(seconds=seconds, start_date=start, timezone=UTC)
        return DateTrigger(run_date=dt.datetime.fromisoformat(self.config["run_at"]), timezone=UTC)

    def next_fire_times(
        self, count: int, now: dt.datetime | None = None, since: dt.datetime | None = None
    ) -> list[dt.datetime]:
        """The next ``count`` fire times after ``now`` (UTC-aware); an interval counts from
        ``since`` (its job's last schedule change), else from now."""
        now = now or dt.datetime.now(UTC)
        trigger = self.trigger(since)
        times: list[dt.datetime] = []
        previous = None
        while len(times) < count:
            fire = trigger.get_next_fire_time(previous, now if previous is None else previous)
            if fire is None or (previous is not None and fire <= previous):
                break
            if fire > now:
                times.append(fire.astimezone(UTC))
            previous = fire
        return times


def fire_times_between(
    schedule: Schedule,
    start: dt.datetime,
    end: dt.datetime,
    since: dt.datetime,
    limit: int,
) -> list[dt.datetime]:
    """The schedule's fire times in [``start``, ``end``], at most ``limit`` + 1 of them (so a
    caller can tell "more than the limit"). An interval keeps the phase it has counted
    from ``since`` (its job's last schedule change), before that time too."""
    if schedule.type == "once":
        run_at = dt.datetime.fromisoformat(schedule.config["run_at"]).astimezone(UTC)
        return [run_at] if start <= run_at <= end else []
    times: list[dt.datetime] = []
    if schedule.type == "interval":
        step = dt.timedelta(seconds=parse_interval(schedule.config["every"]))
        fire = since + step
        if fire > start:
            fire -= step * ((fire - start) // step)  # back to the first at or after start
        elif fire < start:
            fire += step * -(-(start - fire) // step)
        while fire <= end and len(times) <= limit:
            times.append(fire.astimezone(UTC))
            fire += step
        return times
    trigger = schedule.trigger(since)
    previous = None
    moment = start - dt.timedelta(microseconds=1)
    while len(times) <= limit:
        fire = trigger.get_next_fire_time(previous, moment if previous is None else previous)
        if fire is None or fire > end or (previous is not None and fire <= previous):
            break
        if fire >= start:
            times.append(fire.astimezone(UTC))
        previous = fire
    return times


def first_fire_after_change(
    schedule: Schedule, since: dt.datetime, grace_seconds: int
) -> dt.datetime | None:
    """A job's next fire once its change at ``since`` is applied: the first after
    ``since`` (an interval counts from it), or None for a one-shot whose time and grace
    passed (enabling it again does not fire it)."""
    if schedule.type == "once":
        run_at = dt.datetime.fromisoformat(schedule.config["run_at"])
        if run_at + dt.timedelta(seconds=grace_seconds) < dt.datetime.now(UTC):
            return None
    moment = schedule.trigger(since).get_next_fire_time(None, since)
    return None if moment is None else moment.astimezone(UTC)


def make_schedule(
    schedule_type: str | None,
    schedule_config: dict[str, Any] | None,
    timezone: str,
    *,
    require_future: bool = True,
) -> Schedule:
    """Validate a schedule given as type + config; raise :class:`InvalidSchedule`."""
    tz = get_timezone(timezone)
    if schedule_type not in SCHEDULE_TYPES:
        raise InvalidSchedule(
            f"Must be one of: {', '.join(SCHEDULE_TYPES)}.", field="schedule_type"
        )
    config = dict(schedule_config or {})
    key = {"cron": "expression", "interval": "every", "once": "run_at"}[schedule_type]
    extra = sorted(set(config) - {key})
    if extra:
        raise InvalidSchedule(
            f"Unknown key(s) {', '.join(extra)} for a {schedule_type} schedule; "
            f"expected {{'{key}': ...}}.",
            field="schedule_config",
        )
    value = config.get(key)
    if value is None or value == "":
        raise InvalidSchedule(
            f"A {schedule_type} schedule needs {{'{key}': ...}}.", field="schedule_config"
        )
    if schedule_type == "cron":
        if not isinstance(value, str):
            raise InvalidSchedule("expression must be a string.", field="schedule_config")
        parse_cron(value)
        canonical = {"expression": " ".join(value.split())}
    elif schedule_type == "interval":
        canonical = {"every": format_interval(parse_interval(value))}
    else:
        moment = parse_run_at(value, tz)
        if require_future and moment <= dt.datetime.now(UTC):
            raise InvalidSchedule(f"run_at {value!r} is in the past.")
        canonical = {"run_at": moment.isoformat()}
    return Schedule(schedule_type, canonical, timezone)


def schedule_from_text(text: str, timezone: str, *, require_future: bool = True) -> Schedule:
    """Read the one-string form: an ISO time, an interval like ``15m``, or a cron."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchedule("A schedule is a cron expression, an interval or an ISO time.")
    stripped = text.strip()
    if _INTERVAL_RE.match(stripped.lower()):
        return make_schedule("interval", {"every": stripped}, timezone)
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", stripped):
        return make_schedule("once", {"run_at": stripped}, timezone, require_future=require_future)
    return make_schedule("cron", {"expression": stripped}, timezone)
