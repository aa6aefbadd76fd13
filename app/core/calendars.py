"""Calendars: named sets of times when jobs must not run (pure: no I/O).

A calendar holds, in its own timezone: whole ``dates``; public ``holidays`` of a country
(and subdivision), from the ``holidays`` library; and ``windows``, either weekly
(``{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}``, which may cross midnight:
``22:00``-``06:00``) or one-off (``{"start": ISO time, "end": ISO time}``). A window
includes its start and excludes its end.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = dt.UTC
#: How far next_fire_outside looks before it gives up (a calendar may exclude forever).
SEARCH_FIRES = 20_000
SEARCH_DAYS = 800


def minutes_of(text: str) -> int:
    """``HH:MM`` (``24:00`` allowed) as minutes after midnight; ValueError if not."""
    hours, sep, minutes = text.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{text!r} is not HH:MM.")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00).")
    return value


@functools.lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None) -> Any:
    """The holidays library's calendar of a country (years are added as they are asked)."""
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def check_holidays(country: str, subdivision: str | None) -> None:
    """ValueError naming what the holidays library does not know."""
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"{country!r} is not a country code the holidays library knows.")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12]) or "none"
        raise ValueError(f"{subdivision!r} is not a subdivision of {country} (e.g. {known}).")


@dataclass(frozen=True)
class Calendar:
    id: str
    timezone: str
    dates: frozenset[dt.date]
    country: str | None
    subdivision: str | None
    weekly: tuple[tuple[frozenset[int], int, int], ...]  # (weekdays, start, end minutes)
    once: tuple[tuple[dt.datetime, dt.datetime], ...]  # UTC [start, end)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Calendar:
        """From a calendar as stored (id, timezone, dates, holidays, windows)."""
        holidays = row.get("holidays") or {}
        weekly, once = [], []
        for window in row.get("windows") or ():
            if "days" in window:
                days = frozenset(DAYS.index(day) for day in window["days"])
                weekly.append((days, minutes_of(window["start"]), minutes_of(window["end"])))
            else:
                start = dt.datetime.fromisoformat(window["start"]).astimezone(UTC)
                once.append((start, dt.datetime.fromisoformat(window["end"]).astimezone(UTC)))
        return cls(
            id=row["id"],
            timezone=row["timezone"],
            dates=frozenset(dt.date.fromisoformat(d) for d in row.get("dates") or ()),
            country=holidays.get("country"),
            subdivision=holidays.get("subdivision"),
            weekly=tuple(weekly),
            once=tuple(once),
        )

    def excludes(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` (aware) falls in this calendar."""
        return self.excluded_until(moment) is not None

    def excluded_until(self, moment: dt.datetime) -> dt.datetime | None:
        """When the exclusion ``moment`` falls in ends (None: it is not excluded): the
        latest end of the rules that hold it, each continuous from ``moment`` on."""
        ends = [end for start, end in self.once if start <= moment < end]
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        day = local.date()
        if day in self.dates or (self.country and day in _holidays(self.country, self.subdivision)):
            ends.append(_local(day, 24 * 60, zone))
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        for days, start, end in self.weekly:
            if start < end:
                if weekday in days and start <= minute < end:
                    ends.append(_local(day, end, zone))
            elif weekday in days and minute >= start:  # crosses midnight: its evening
                ends.append(_local(day + dt.timedelta(days=1), end, zone))
            elif (weekday - 1) % 7 in days and minute < end:  # and the morning after
                ends.append(_local(day, end, zone))
        return max(ends) if ends else None


def _local(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """``minutes`` after the start of ``day`` in ``zone`` (1440: the next midnight), UTC."""
    day += dt.timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    moment = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=zone)
    return moment.astimezone(UTC)


def excluded_by(calendars: Sequence[Calendar], moment: dt.datetime) -> str | None:
    """The id of the first of ``calendars`` that excludes ``moment`` (None: it runs)."""
    for calendar in calendars:
        if calendar.excludes(moment):
            return calendar.id
    return None


def next_fire_outside(
    trigger: BaseTrigger, first: dt.datetime | None, calendars: Sequence[Calendar]
) -> dt.datetime | None:
    """The first fire from ``first`` on (``first`` is itself a fire of ``trigger``) that
    no calendar excludes; None when there is none within the search's bounds. A fire
    inside an exclusion jumps to the exclusion's end: a month off is a few steps."""
    fire = first
    limit = first + dt.timedelta(days=SEARCH_DAYS) if first is not None else None
    for _ in range(SEARCH_FIRES):
        if fire is None or (limit is not None and fire > limit):
            return None
        ends = [end for c in calendars if (end := c.excluded_until(fire)) is not None]
        if not ends:
            return fire
        later = trigger.get_next_fire_time(None, max(ends))
        fire = later if later is None or later > fire else None
    return None


def ids_in(values: Iterable[Any]) -> set[str]:
    """Every calendar id named in ``values`` (jobs' ``calendars`` lists)."""
    return {calendar_id for listed in values for calendar_id in (listed or ())}
