"""How the UI shows values: times in a job's timezone (UTC on hover), durations, lateness.

Plain functions, registered as Jinja filters by :func:`app.ui.init_app`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape

from app.statuses import Status

#: The statuses shown as good, bad, going on and neither (each also says its word).
STATUS_TONES = {
    Status.SUCCESS: "good",
    Status.FAILED: "bad",
    Status.TIMEOUT: "bad",
    Status.INTERRUPTED: "bad",
    Status.MISSED: "warn",
    Status.SKIPPED: "neutral",
    Status.CANCELLED: "neutral",
    Status.QUEUED: "busy",
    Status.RUNNING: "busy",
}


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_time(
    value: dt.datetime | None, timezone: str | None = None, relative: bool = True
) -> Markup:
    """A ``<time>`` element: the time in ``timezone``, with the UTC time on hover (the
    page's script makes it relative, in the chosen timezone)."""
    if value is None:
        return Markup('<span class="none">—</span>')
    utc = value.astimezone(dt.UTC)
    zone = timezone or "UTC"
    local = value.astimezone(_zone(zone))
    # The page's script (static/cronwell.js) shows it relative ("in 3 min", "2 h ago"),
    # with the absolute time, in the timezone the reader chose, on hover and to readers.
    # A list of fire times stays absolute (``relative`` false): its hours are the point.
    fixed = Markup("") if relative else Markup(" data-fixed")
    return Markup('<time datetime="{}" data-zone="{}"{} title="{} UTC">{}</time>').format(
        utc.isoformat(),
        zone,
        fixed,
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )


def duration(ms: int | float | None) -> str:
    """``ms`` milliseconds as people read them: 850 ms, 12.3 s, 4 min 05 s, 2 h 10 min."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def lateness(execution: Any) -> str:
    """How long after its scheduled time a run started ("—" if it never started)."""
    if execution.started_at is None or execution.scheduled_at is None:
        return "—"
    late = (execution.started_at - execution.scheduled_at).total_seconds() * 1000
    return duration(max(late, 0))


def status_badge(status: str | None) -> Markup:
    """The status as a word on a coloured badge (never colour alone)."""
    if status is None:
        return Markup('<span class="status status-none">never run</span>')
    tone = STATUS_TONES.get(status, "neutral")
    return Markup('<span class="status status-{} tone-{}">{}</span>').format(
        escape(status), tone, escape(status)
    )


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def compact_json(value: Any) -> str:
    """A value on one line (a diff's cell): strings bare, the rest as JSON; none as a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def tone(status: str | None) -> str:
    """The tone a status is drawn in (good, bad, warn, busy, neutral)."""
    return STATUS_TONES.get(status or "", "neutral")


FILTERS = {
    "tone": tone,
    "local_time": local_time,
    "duration": duration,
    "lateness": lateness,
    "status_badge": status_badge,
    "pretty_json": pretty_json,
    "compact_json": compact_json,
}
