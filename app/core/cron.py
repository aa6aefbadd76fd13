"""Crontab expressions: parsed with crontab's meaning, run by APScheduler's cron triggers.

APScheduler's ``CronTrigger.from_crontab`` does not keep crontab's meaning; this does:

* day-of-week 0 and 7 are Sunday (APScheduler counts 0 as Monday); names and ranges
  (``mon-fri``, ``sun``, ``5-7``) and steps (``*/2``) work as in crontab;
* when both day-of-month and day-of-week are restricted (neither starts with ``*``), a day
  matching *either* fires (APScheduler ANDs them): an OR of two cron triggers;
* a wall-clock time that a DST change repeats fires once (APScheduler fires it twice);
  a time that a DST change skips fires once, an hour later in wall-clock terms
  (e.g. 02:30 becomes 03:30 on the spring-forward day).

Six fields put seconds first; ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``,
``@yearly`` (and ``@annually``, ``@midnight``) are accepted.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from app.errors import InvalidSchedule

UTC = dt.UTC

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
# APScheduler's day-of-week names, indexed by crontab number (0 = Sunday).
APS_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, MONTH_NAMES)
_DOW = _Field("day-of-week", 0, 7, DOW_NAMES)


def _parse_value(text: str, field: _Field) -> int:
    lowered = text.lower()
    if field.names and lowered in field.names:
        return field.names[lowered]
    if not text.isdigit():
        raise InvalidSchedule(f"{field.name}: {text!r} is not a number or a known name.")
    value = int(text)
    if not field.low <= value <= field.high:
        raise InvalidSchedule(f"{field.name}: {value} is out of range {field.low}-{field.high}.")
    return value


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    """Expand one crontab field to the set of values it selects."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise InvalidSchedule(f"{field.name}: empty list item in {text!r}.")
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise InvalidSchedule(f"{field.name}: step {step_text!r} must be a number > 0.")
            step = int(step_text)
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _parse_value(first, field), _parse_value(last, field)
            if start > end:
                raise InvalidSchedule(f"{field.name}: range {base!r} runs backwards.")
        else:
            start = _parse_value(base, field)
            # "5/15" means "from 5 to the end, every 15", as in Vixie cron.
            end = field.high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSpec:
    """A parsed crontab expression: the set of values of each field."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # crontab numbering, 0 = Sunday
    dom_restricted: bool
    dow_restricted: bool
    texts: tuple[str, ...]  # the six field texts, seconds first

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_dom = day.day in self.days
        in_dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_restricted and self.dow_restricted:
            return in_dom or in_dow
        return in_dom and in_dow

    def matches(self, wall: dt.datetime) -> bool:
        """Whether a naive wall-clock time matches (to the second)."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.matches_day(wall.date())
        )


def parse_cron(expression: str) -> CronSpec:
    """Parse a 5- or 6-field crontab expression or an ``@`` macro."""
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise InvalidSchedule(
                f"Unknown macro {text!r}; use one of {', '.join(sorted(MACROS))}."
            )
        text = MACROS[text.lower()]
    parts = text.split(" ")
    if len(parts) == 5:
        parts = ["0", *parts]
    elif len(parts) != 6:
        raise InvalidSchedule(
            "A cron expression has 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 with seconds first; got {len(parts)}."
        )
    fields = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW)
    sets = [_parse_field(part, field) for part, field in zip(parts, fields, strict=True)]
    weekdays = frozenset(v % 7 for v in sets[5])
    spec = CronSpec(
        expression=expression.strip(),
        seconds=sets[0],
        minutes=sets[1],
        hours=sets[2],
        days=sets[3],
        months=sets[4],
        weekdays=weekdays,
        dom_restricted=not parts[3].startswith("*"),
        dow_restricted=not parts[5].startswith("*"),
        texts=tuple(parts),
    )
    if not (spec.dom_restricted and spec.dow_restricted):
        longest = max(29 if m == 2 else calendar.monthrange(2001, m)[1] for m in spec.months)
        if min(spec.days) > longest:
            raise InvalidSchedule(
                f"The expression never fires: no selected month has day {min(spec.days)}."
            )
    return spec


def _list(values: frozenset[int], low: int, high: int) -> str:
    if values == frozenset(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted(values))


def _cron_trigger(spec: CronSpec, tz: ZoneInfo, *, day: str, dow: str) -> CronTrigger:
    return CronTrigger(
        second=_list(spec.seconds, 0, 59),
        minute=_list(spec.minutes, 0, 59),
        hour=_list(spec.hours, 0, 23),
        day=day,
        month=_list(spec.months, 1, 12),
        day_of_week=dow,
        timezone=tz,
    )


class CrontabTrigger(BaseTrigger):
    """A crontab schedule in a timezone, with crontab's day and DST rules.

    Stored (pickled) in the APScheduler job store, so it keeps to plain attributes.
    """

    def __init__(self, expression: str, timezone: str) -> None:
        self.expression = expression
        self.timezone = timezone
        self._build()

    def _build(self) -> None:
        spec = parse_cron(self.expression)
        tz = ZoneInfo(self.timezone)
        days = _list(spec.days, 1, 31)
        dows = ",".join(APS_DOW[d] for d in sorted(spec.weekdays))
        if len(spec.weekdays) == 7:
            dows = "*"
        if spec.dom_restricted and spec.dow_restricted:
            self._inner: BaseTrigger = OrTrigger(
                [
                    _cron_trigger(spec, tz, day=days, dow="*"),
                    _cron_trigger(spec, tz, day="*", dow=dows),
                ]
            )
        else:
            self._inner = _cron_trigger(spec, tz, day=days, dow=dows)
        self._tz = tz

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        candidate = self._inner.get_next_fire_time(previous_fire_time, now)
        # A wall-clock time repeated by a DST change (fall back) fires once: skip the
        # second occurrence when it shows the same wall time as the previous fire.
        for _ in range(4):
            if candidate is None or previous_fire_time is None:
                break
            # Compare wall-clock fields (naive datetimes carry "fold", which we ignore).
            prev_wall = previous_fire_time.astimezone(self._tz).timetuple()[:6]
            cand_wall = candidate.astimezone(self._tz).timetuple()[:6]
            if cand_wall != prev_wall and candidate > previous_fire_time:
                break
            # In UTC: arithmetic on a zoned datetime is wall-clock and drops "fold".
            after = max(candidate, previous_fire_time).astimezone(UTC) + dt.timedelta(seconds=1)
            candidate = self._inner.get_next_fire_time(None, after)
        return candidate

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "expression": self.expression, "timezone": self.timezone}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.expression = state["expression"]
        self.timezone = state["timezone"]
        self._build()

    def __str__(self) -> str:
        return f"crontab[{self.expression}, {self.timezone}]"
