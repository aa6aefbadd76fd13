"""GET /api/scheduler, POST /api/schedules/preview, GET /api/job-types, GET /healthz."""

import datetime as dt
import os


def test_scheduler_status_shows_the_leader_and_counts(service, make_job):
    make_job()
    body = service.get("/api/scheduler").json()
    assert body["running"] is True
    assert body["max_concurrent"] == 10
    assert body["timezone"] == "UTC"
    assert body["jobs"]["total"] >= 1
    assert body["leader"]["pid"] != os.getpid()
    assert body["leader"]["host"]
    assert isinstance(body["uptime_seconds"], float)
    assert body["version"]


def test_preview_describes_and_lists_fire_times(service):
    response = service.post(
        "/api/schedules/preview",
        json={"schedule": "0 9 * * 1-5", "timezone": "Europe/Paris", "count": 3},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"].startswith("At 09:00 AM, Monday through Friday")
    times = [dt.datetime.fromisoformat(t) for t in body["next_run_times"]]
    assert len(times) == 3 and times == sorted(times)
    assert all(t.astimezone(dt.timezone(dt.timedelta(hours=1))).hour == 9 for t in times)


def test_preview_warns_about_dst(service):
    body = service.post(
        "/api/schedules/preview",
        json={
            "schedule_type": "cron",
            "schedule_config": {"expression": "30 2 * * *"},
            "timezone": "America/New_York",
        },
    ).json()
    assert any("skips 02:30:00" in w for w in body["warnings"])


def test_an_invalid_preview_is_422(service):
    response = service.post("/api/schedules/preview", json={"schedule": "* * * *"})
    assert response.status_code == 422
    assert "schedule" in response.json()["errors"]
    assert (
        service.post("/api/schedules/preview", json={"schedule": "1m", "count": 0}).status_code
        == 422
    )


def test_job_types_list_their_schemas(service):
    types = {t["name"]: t for t in service.get("/api/job-types").json()}
    assert {"http", "shell", "prompt", "skill", "pipeline"} <= set(types)
    assert "url" in types["http"]["config_schema"]["properties"]
    assert types["http"]["config_schema"]["required"] == ["url"]
    assert types["shell"]["enabled"] is True  # this module's server turns it on


def test_healthz_is_ok_when_the_database_and_scheduler_answer(service):
    response = service.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "scheduler": "running"}
