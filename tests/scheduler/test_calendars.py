"""Calendars: fires they exclude are recorded skipped and never run, next_run_at and the
preview skip them, checked against the holidays library's own dates and croniter's fire
times; changes are audited; a calendar in use cannot be deleted."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import holidays
from croniter import croniter

from tests.support import scrape, wait_for

BERLIN = ZoneInfo("Europe/Berlin")


def _calendar(service, **body) -> dict:
    made = service.post("/api/calendars", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def test_the_preview_agrees_with_the_holidays_library_and_croniter(service):
    _calendar(service, id="bavaria", name="Bavaria", timezone="Europe/Berlin",
              dates=["2027-01-07"], holidays={"country": "DE", "subdivision": "BY"},
              windows=[{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}])  # fmt: skip
    preview = service.post("/api/schedules/preview", json={
        "schedule": "30 9 * * *", "timezone": "Europe/Berlin", "calendars": ["bavaria"],
        "count": 40}).json()  # fmt: skip
    public = holidays.country_holidays("DE", subdiv="BY")
    fires = croniter("30 9 * * *", dt.datetime.now(BERLIN))
    expected_runs, marked = [], []
    while len(expected_runs) < 40:
        fire = fires.get_next(dt.datetime)
        day = fire.date()
        excluded = day in public or fire.weekday() >= 5 or day == dt.date(2027, 1, 7)
        marked.append((fire, "bavaria" if excluded else None))
        if not excluded:
            expected_runs.append(fire)
    got = [(dt.datetime.fromisoformat(f["at"]), f["excluded_by"]) for f in preview["fires"]]
    assert got == marked
    assert [dt.datetime.fromisoformat(t) for t in preview["next_run_times"]] == expected_runs
    assert any(by for _, by in got), "forty weekdays' span holds weekends"


def test_a_weekly_window_may_cross_midnight(service):
    _calendar(service, id="nights", name="Monday night", timezone="Europe/Berlin",
              windows=[{"days": ["mon"], "start": "22:00", "end": "06:00"}])  # fmt: skip
    preview = service.post("/api/schedules/preview", json={
        "schedule": "0 * * * *", "timezone": "Europe/Berlin", "calendars": ["nights"],
        "count": 100}).json()  # fmt: skip
    for fire in preview["fires"]:
        local = dt.datetime.fromisoformat(fire["at"]).astimezone(BERLIN)
        inside = (local.weekday() == 0 and local.hour >= 22) or (
            local.weekday() == 1 and local.hour < 6
        )
        assert (fire["excluded_by"] == "nights") == inside, local


def test_fires_inside_a_calendar_are_skipped_and_the_job_runs_after_it(service, tmp_path):
    log = tmp_path / "ran.log"
    now = dt.datetime.now(dt.UTC)
    window_end = now + dt.timedelta(seconds=5)
    _calendar(service, id="freeze", name="Change freeze",
              windows=[{"start": (now - dt.timedelta(minutes=1)).isoformat(),
                        "end": window_end.isoformat()}])  # fmt: skip
    made = service.post(
        "/api/jobs",
        json={
            "id": "frozen",
            "name": "frozen",
            "type": "shell",
            "schedule": "1s",
            "calendars": ["freeze"],
            # A run-now must not meet a fire in progress (overlap skip would answer 409).
            "overlap_policy": "allow",
            "configuration": {"command": f"date +%s.%N >> {log}"},
        },
    )
    assert made.status_code == 201, made.text
    assert dt.datetime.fromisoformat(made.json()["next_run_at"]) >= window_end
    wait_for(lambda: len(service.executions("frozen", status="skipped")) >= 2, timeout=15)
    skipped = service.executions("frozen", status="skipped")
    assert {e["error"] for e in skipped} == {"calendar freeze"}
    assert all(dt.datetime.fromisoformat(e["scheduled_at"]) < window_end for e in skipped)
    wait_for(lambda: log.exists() and len(log.read_text().split()) >= 2, timeout=20)
    ran = [float(t) for t in log.read_text().split()]
    assert min(ran) >= window_end.timestamp() - 0.05, "nothing ran inside the window"
    # Run-now ignores calendars.
    service.put(
        "/api/calendars/freeze",
        json={
            "windows": [{"start": now.isoformat(), "end": (now + dt.timedelta(days=1)).isoformat()}]
        },
    )
    count = len(log.read_text().split())
    assert service.post("/api/jobs/frozen/run").status_code == 202
    wait_for(lambda: len(log.read_text().split()) > count, timeout=10)


def test_next_run_past_thirty_excluded_days_and_the_calendar_s_life(service):
    now = dt.datetime.now(dt.UTC)
    until = (now + dt.timedelta(days=30)).replace(minute=30, second=0, microsecond=0)
    _calendar(service, id="sabbatical", name="Thirty days off",
              windows=[{"start": now.isoformat(), "end": until.isoformat()}])  # fmt: skip
    made = service.post(
        "/api/jobs",
        json={
            "id": "hourly-off",
            "name": "hourly",
            "type": "http",
            "schedule": "0 * * * *",
            "calendars": ["sabbatical"],
            "configuration": {"url": "http://127.0.0.1:9/"},
        },
    )
    assert made.status_code == 201, made.text
    started = time.perf_counter()
    job = service.get("/api/jobs/hourly-off").json()
    assert time.perf_counter() - started < 2
    assert dt.datetime.fromisoformat(job["next_run_at"]) == until.replace(minute=0) + dt.timedelta(
        hours=1
    )
    expected = dt.datetime.fromisoformat(job["next_run_at"]).timestamp()
    wait_for(lambda: [s.value for s in scrape(service, "cronwell_job_next_run_timestamp_seconds")
                      if s.labels["job_id"] == "hourly-off"] == [expected], timeout=15)  # fmt: skip
    refused = service.delete("/api/calendars/sabbatical")
    assert refused.status_code == 409 and refused.json()["errors"]["jobs"] == ["hourly-off"]
    unknown = service.patch("/api/jobs/hourly-off", json={"calendars": ["nope"]})
    assert unknown.status_code == 422 and "calendars" in unknown.json()["errors"]
    assert service.patch("/api/jobs/hourly-off", json={"calendars": []}).status_code == 200
    assert service.delete("/api/calendars/sabbatical").status_code == 204
    assert service.get("/api/calendars/sabbatical").status_code == 404
    actions = [e["action"] for e in service.get(
        "/api/audit", params={"target": "calendar:sabbatical"}).json()]  # fmt: skip
    assert actions == ["calendar.delete", "calendar.create"]


def test_a_backfill_leaves_out_the_fires_a_calendar_excludes(service, target):
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    _calendar(service, id="quiet-hour", name="One quiet hour",
              windows=[{"start": (now - dt.timedelta(hours=3)).isoformat(),
                        "end": (now - dt.timedelta(hours=2)).isoformat()}])  # fmt: skip
    made = service.post(
        "/api/jobs",
        json={
            "id": "filled-around",
            "name": "filled",
            "type": "http",
            "schedule": "0 * * * *",
            "calendars": ["quiet-hour"],
            "configuration": {"url": target.url("/ok?around")},
        },
    )
    assert made.status_code == 201, made.text
    started = service.post("/api/jobs/filled-around/backfill", json={
        "start": (now - dt.timedelta(hours=4)).isoformat(),
        "end": (now - dt.timedelta(hours=1)).isoformat()}).json()  # fmt: skip
    assert started["runs"] == 3  # 4 fires, one in the quiet hour
    wait_for(lambda: len(service.executions("filled-around", status="success")) == 3, timeout=20)
    ran = {
        dt.datetime.fromisoformat(e["scheduled_at"]) for e in service.executions("filled-around")
    }
    assert now - dt.timedelta(hours=3) not in ran
