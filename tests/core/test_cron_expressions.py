"""Schedule parsing: a table of cron expressions with hand-checked next fire times.

Reference instant: Monday 2026-11-23 10:15:30 UTC. Every expected time below was worked
out by hand from a calendar (Nov 2026: the 23rd is a Monday, the 29th a Sunday; Dec 1 a
Tuesday; 2028 is the next leap year).
"""

import datetime as dt
import pickle

import pytest

from app.core.cron import CrontabTrigger
from app.core.describe import schedule_warnings
from app.core.schedules import make_schedule, parse_interval, schedule_from_text
from app.errors import InvalidSchedule, ValidationFailed

NOW = dt.datetime(2026, 11, 23, 10, 15, 30, tzinfo=dt.UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


CASES = [
    # (expression, timezone, [expected next fire times, UTC])
    ("0 2 * * *", "UTC", [utc(2026, 11, 24, 2), utc(2026, 11, 25, 2)]),
    ("*/15 * * * *", "UTC", [utc(2026, 11, 23, 10, 30), utc(2026, 11, 23, 10, 45)]),
    ("30 10 * * *", "UTC", [utc(2026, 11, 23, 10, 30), utc(2026, 11, 24, 10, 30)]),
    ("0 9 * * 1-5", "UTC", [utc(2026, 11, 24, 9), utc(2026, 11, 25, 9)]),
    ("0 9 * * mon-fri", "UTC", [utc(2026, 11, 24, 9), utc(2026, 11, 25, 9)]),
    # Sunday is 0 and 7, as in crontab (APScheduler's from_crontab reads 0 as Monday).
    ("0 9 * * 0", "UTC", [utc(2026, 11, 29, 9), utc(2026, 12, 6, 9)]),
    ("0 9 * * 7", "UTC", [utc(2026, 11, 29, 9), utc(2026, 12, 6, 9)]),
    ("0 9 * * sun", "UTC", [utc(2026, 11, 29, 9)]),
    ("0 0 * * 0,7", "UTC", [utc(2026, 11, 29), utc(2026, 12, 6)]),
    ("0 9 * * 6,0", "UTC", [utc(2026, 11, 28, 9), utc(2026, 11, 29, 9), utc(2026, 12, 5, 9)]),
    (
        "0 0 * * 5-7",
        "UTC",
        [utc(2026, 11, 27), utc(2026, 11, 28), utc(2026, 11, 29), utc(2026, 12, 4)],
    ),
    # */2 in day-of-week is 0,2,4,6: Sunday, Tuesday, Thursday, Saturday.
    (
        "0 0 * * */2",
        "UTC",
        [utc(2026, 11, 24), utc(2026, 11, 26), utc(2026, 11, 28), utc(2026, 11, 29)],
    ),
    # Both day fields restricted: a day matching either fires (1st, 15th or a Monday).
    (
        "0 0 1,15 * 1",
        "UTC",
        [
            utc(2026, 11, 30),
            utc(2026, 12, 1),
            utc(2026, 12, 7),
            utc(2026, 12, 14),
            utc(2026, 12, 15),
        ],
    ),
    # Friday or the 13th: Fri 27 Nov, Fri 4 Dec, Fri 11 Dec, Sun 13 Dec.
    (
        "0 12 13 * 5",
        "UTC",
        [utc(2026, 11, 27, 12), utc(2026, 12, 4, 12), utc(2026, 12, 11, 12), utc(2026, 12, 13, 12)],
    ),
    # A day field starting with * is unrestricted (Vixie cron): */2 days AND Mondays.
    ("0 0 */2 * 1", "UTC", [utc(2026, 12, 7), utc(2026, 12, 21)]),
    ("0 0 1 * *", "UTC", [utc(2026, 12, 1), utc(2027, 1, 1)]),
    ("0 0 31 * *", "UTC", [utc(2026, 12, 31), utc(2027, 1, 31), utc(2027, 3, 31)]),
    ("0 0 29 2 *", "UTC", [utc(2028, 2, 29)]),
    ("0 8-10 * * *", "UTC", [utc(2026, 11, 24, 8), utc(2026, 11, 24, 9), utc(2026, 11, 24, 10)]),
    (
        "5/20 * * * *",
        "UTC",
        [utc(2026, 11, 23, 10, 25), utc(2026, 11, 23, 10, 45), utc(2026, 11, 23, 11, 5)],
    ),
    ("0 0 * jan,jul *", "UTC", [utc(2027, 1, 1), utc(2027, 1, 2)]),
    ("0 0 1 */6 *", "UTC", [utc(2027, 1, 1), utc(2027, 7, 1)]),
    # Six fields: seconds first.
    ("*/5 * * * * *", "UTC", [utc(2026, 11, 23, 10, 15, 35), utc(2026, 11, 23, 10, 15, 40)]),
    ("0 */2 * * * *", "UTC", [utc(2026, 11, 23, 10, 16), utc(2026, 11, 23, 10, 18)]),
    ("30 0 9 * * 1", "UTC", [utc(2026, 11, 30, 9, 0, 30)]),
    # Macros.
    ("@hourly", "UTC", [utc(2026, 11, 23, 11), utc(2026, 11, 23, 12)]),
    ("@daily", "UTC", [utc(2026, 11, 24)]),
    ("@midnight", "UTC", [utc(2026, 11, 24)]),
    ("@weekly", "UTC", [utc(2026, 11, 29)]),
    ("@monthly", "UTC", [utc(2026, 12, 1)]),
    ("@yearly", "UTC", [utc(2027, 1, 1)]),
    ("@annually", "UTC", [utc(2027, 1, 1)]),
    # A timezone: 22:00 in New York (EST, UTC-5) is 03:00 UTC the next day.
    ("0 22 * * 1-5", "America/New_York", [utc(2026, 11, 24, 3), utc(2026, 11, 25, 3)]),
    ("0 9 * * *", "Asia/Kolkata", [utc(2026, 11, 24, 3, 30)]),
]


@pytest.mark.parametrize(
    ("expression", "timezone", "expected"), CASES, ids=[c[0] + " " + c[1] for c in CASES]
)
def test_cron_next_fire_times(expression, timezone, expected):
    schedule = make_schedule("cron", {"expression": expression}, timezone)
    assert schedule.next_fire_times(len(expected), NOW) == expected


def test_a_time_skipped_by_spring_forward_fires_once_an_hour_later():
    # 2027-03-14 02:30 does not exist in New York (clocks go 02:00 EST -> 03:00 EDT).
    schedule = make_schedule("cron", {"expression": "30 2 * * *"}, "America/New_York")
    times = schedule.next_fire_times(3, utc(2027, 3, 13, 12))
    assert times == [utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 30), utc(2027, 3, 16, 6, 30)]


def test_a_time_repeated_by_fall_back_fires_once():
    # 2027-11-07 01:30 happens twice in New York (EDT, then EST); cron runs it once.
    schedule = make_schedule("cron", {"expression": "30 1 * * *"}, "America/New_York")
    times = schedule.next_fire_times(3, utc(2027, 11, 6, 12))
    assert times == [utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30), utc(2027, 11, 9, 6, 30)]


def test_noon_keeps_its_wall_time_across_a_dst_change():
    schedule = make_schedule("cron", {"expression": "0 12 * * *"}, "America/New_York")
    assert schedule.next_fire_times(2, utc(2027, 3, 13, 0)) == [
        utc(2027, 3, 13, 17),  # EST
        utc(2027, 3, 14, 16),  # EDT
    ]


def test_preview_warns_about_dst_and_or_ed_day_fields():
    dst = schedule_warnings(make_schedule("cron", {"expression": "30 2 * * *"}, "America/New_York"))
    assert any("skips 02:30:00" in w for w in dst), dst
    fold = schedule_warnings(
        make_schedule("cron", {"expression": "30 1 * * *"}, "America/New_York")
    )
    assert any("repeats 01:30:00" in w for w in fold), fold
    days = schedule_warnings(make_schedule("cron", {"expression": "0 0 1 * 1"}, "UTC"))
    assert any("either" in w for w in days)
    assert (
        schedule_warnings(make_schedule("cron", {"expression": "0 12 * * *"}, "America/New_York"))
        == []
    )


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("* * * *", "got 4"),
        ("* * * * * * *", "got 7"),
        ("61 * * * *", "minute: 61 is out of range 0-59"),
        ("* 24 * * *", "hour: 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("* * * 13 *", "month: 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week: 8 is out of range 0-7"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("* * * * funday", "not a number or a known name"),
        ("@reboot", "Unknown macro"),
        ("0 0 31 2 *", "never fires"),
        ("1,,2 * * * *", "empty list item"),
    ],
)
def test_invalid_cron_is_refused_with_the_reason(expression, fragment):
    with pytest.raises(InvalidSchedule) as caught:
        make_schedule("cron", {"expression": expression}, "UTC")
    assert fragment in caught.value.message


def test_intervals_parse_and_combine():
    assert parse_interval("15m") == 900
    assert parse_interval("1h30m") == 5400
    assert parse_interval("1d2h3m4s") == 93784
    assert make_schedule("interval", {"every": "90m"}, "UTC").config == {"every": "1h30m"}
    for bad in ("0m", "0s", "15", "m", "1x", "30m1h", "-5m", ""):
        with pytest.raises(InvalidSchedule):
            parse_interval(bad)


def test_one_shots_need_a_future_time_and_read_naive_times_in_the_job_zone():
    with pytest.raises(InvalidSchedule, match="in the past"):
        make_schedule("once", {"run_at": "2020-01-01T00:00:00+00:00"}, "UTC")
    local = make_schedule("once", {"run_at": "2099-06-01T09:00:00"}, "Europe/Paris")
    assert local.config == {"run_at": "2099-06-01T07:00:00+00:00"}
    with pytest.raises(InvalidSchedule, match="ISO-8601"):
        make_schedule("once", {"run_at": "tomorrow"}, "UTC")


def test_the_one_string_form_is_read_by_its_shape():
    assert schedule_from_text("15m", "UTC").type == "interval"
    assert schedule_from_text("0 2 * * *", "UTC").type == "cron"
    assert schedule_from_text("@daily", "UTC").type == "cron"
    assert schedule_from_text("2099-01-01T00:00:00Z", "UTC").type == "once"
    with pytest.raises(InvalidSchedule):
        schedule_from_text("not-valid", "UTC")


def test_an_unknown_timezone_names_the_field():
    with pytest.raises(ValidationFailed) as caught:
        make_schedule("cron", {"expression": "* * * * *"}, "Nowhere/City")
    assert caught.value.errors == {"timezone": [caught.value.errors["timezone"][0]]}


def test_the_crontab_trigger_survives_the_job_store_pickle():
    trigger = CrontabTrigger("0 0 1,15 * 1", "Europe/Berlin")
    restored = pickle.loads(pickle.dumps(trigger))
    assert restored.get_next_fire_time(None, NOW) == trigger.get_next_fire_time(None, NOW)
    assert str(restored) == "crontab[0 0 1,15 * 1, Europe/Berlin]"


def test_a_store_row_pickled_under_the_trigger_s_old_module_still_loads():
    """Rows written before the trigger moved to app.core.cron name app.scheduler.cron."""
    import pickle

    from app.core.schedules import make_schedule

    trigger = make_schedule("cron", {"expression": "30 2 * * *"}, "Europe/Paris").trigger(
        dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    )
    from app.core.cron import CrontabTrigger

    CrontabTrigger.__module__ = "app.scheduler.cron"  # pickled as the old rows were
    try:
        old = pickle.dumps(trigger)
    finally:
        CrontabTrigger.__module__ = "app.core.cron"
    assert b"app.scheduler.cron" in old and b"app.core.cron" not in old
    loaded = pickle.loads(old)
    assert str(loaded) == str(trigger) == "crontab[30 2 * * *, Europe/Paris]"
