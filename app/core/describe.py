"""Schedules in words: a sentence for each, and the warnings a user should see."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from cron_descriptor import Options, get_description

from app.core.cron import parse_cron
from app.core.schedules import Schedule, parse_interval

UTC = dt.UTC


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def schedule_description(schedule: Schedule) -> str:
    """A human-readable sentence for the schedule."""
    return _describe(schedule.type, schedule.text, schedule.timezone)


@functools.lru_cache(maxsize=4096)
def _describe(schedule_type: str, text: str, timezone: str) -> str:
    """Cached: a page of jobs shares few schedules, and cron-descriptor loads its
    translations for every sentence."""
    key = {"cron": "expression", "interval": "every", "once": "run_at"}[schedule_type]
    schedule = Schedule(schedule_type, {key: text}, timezone)
    if schedule.type == "interval":
        seconds = parse_interval(schedule.config["every"])
        parts = []
        for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
            count, seconds = divmod(seconds, size)
            if count:
                parts.append(_plural(count, name))
        if len(parts) == 1 and parts[0].startswith("1 "):
            return f"Every {parts[0][2:]}"
        return "Every " + " ".join(parts)
    if schedule.type == "once":
        moment = dt.datetime.fromisoformat(schedule.config["run_at"])
        local = moment.astimezone(ZoneInfo(schedule.timezone))
        return f"Once, at {local:%Y-%m-%d %H:%M:%S} ({schedule.timezone})"
    spec = parse_cron(schedule.config["expression"])
    text = " ".join(spec.texts) if spec.texts[0] != "0" else " ".join(spec.texts[1:])
    options = Options()
    options.day_of_week_start_index_zero = True
    try:
        sentence = get_description(text, options)
    except Exception:  # the descriptor is best effort; the schedule itself is valid
        sentence = f"Cron {schedule.config['expression']}"
    if schedule.timezone != "UTC":
        sentence += f" ({schedule.timezone})"
    return sentence


def _dst_transitions(
    tz: ZoneInfo, start: dt.datetime, days: int
) -> list[tuple[dt.datetime, dt.timedelta]]:
    """UTC instants in the window where ``tz``'s offset changes, with the change."""
    transitions = []
    step = dt.timedelta(hours=1)
    cursor = start
    offset = cursor.astimezone(tz).utcoffset()
    end = start + dt.timedelta(days=days)
    while cursor < end:
        nxt = cursor + step
        new_offset = nxt.astimezone(tz).utcoffset()
        if new_offset != offset:
            transitions.append((nxt, new_offset - offset))
            offset = new_offset
        cursor = nxt
    return transitions


def schedule_warnings(schedule: Schedule, horizon_days: int = 366) -> list[str]:
    """Warnings a user should see: DST skips/repeats within a year, OR-ed day fields."""
    warnings: list[str] = []
    if schedule.type != "cron":
        return warnings
    spec = parse_cron(schedule.config["expression"])
    if spec.dom_restricted and spec.dow_restricted:
        warnings.append(
            "Both day-of-month and day-of-week are restricted: as in cron, a day matching "
            "either one fires."
        )
    tz = ZoneInfo(schedule.timezone)
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for instant, change in _dst_transitions(tz, now, horizon_days):
        local_after = instant.astimezone(tz).replace(tzinfo=None)
        if change > dt.timedelta(0):  # spring forward: wall times in [after-change, after) skipped
            gap_start = local_after - change
            label = "skips"
            effect = "it runs once, shifted later by the change"
        else:  # fall back: wall times in [after, after+|change|) happen twice
            gap_start = local_after
            label = "repeats"
            effect = "it runs once, at the first occurrence"
        span = abs(int(change.total_seconds()))
        hit = next(
            (
                gap_start + dt.timedelta(seconds=s)
                for s in range(0, span, 60 if spec.seconds == {0} else 1)
                if spec.matches(gap_start + dt.timedelta(seconds=s))
            ),
            None,
        )
        if hit is not None:
            warnings.append(
                f"On {hit:%Y-%m-%d} the DST change in {schedule.timezone} {label} "
                f"{hit:%H:%M:%S} local time: {effect}."
            )
    return warnings
