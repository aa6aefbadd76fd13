"""POST /api/jobs."""

import datetime as dt
from zoneinfo import ZoneInfo

import requests

from tests.support import create_http_job, wait_for


def test_it_creates_a_job_with_defaults_and_a_location(service, target):
    response = service.post(
        "/api/jobs",
        json={
            "id": "nightly-backup",
            "name": "Nightly Backup",
            "type": "http",
            "configuration": {"url": target.url("/ok")},
            "schedule_type": "cron",
            "schedule_config": {"expression": "0 2 * * *"},
        },
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["Location"].endswith("/api/jobs/nightly-backup")
    assert job["id"] == "nightly-backup"
    assert job["schedule"] == "0 2 * * *"
    assert job["schedule_description"] == "At 02:00 AM"
    assert job["timezone"] == "UTC"
    assert job["is_enabled"] is True
    assert (job["max_duration_seconds"], job["retry_count"], job["retry_delay_seconds"]) == (
        300,
        0,
        10,
    )
    assert job["overlap_policy"] == "skip"
    assert job["misfire_grace_seconds"] == 60
    assert (job["run_count"], job["success_count"], job["fail_count"]) == (0, 0, 0)
    next_run = dt.datetime.fromisoformat(job["next_run_at"])
    assert next_run.utcoffset() == dt.timedelta(0)
    assert (next_run.hour, next_run.minute) == (2, 0)
    assert next_run > dt.datetime.now(dt.UTC)


def test_it_generates_a_uuid_when_no_id_is_given(service, target):
    response = service.post(
        "/api/jobs",
        json={
            "name": "n",
            "type": "http",
            "configuration": {"url": target.url("/ok")},
            "schedule": "5m",
        },
    )
    assert response.status_code == 201
    job_id = response.json()["id"]
    assert len(job_id) == 36 and job_id.count("-") == 4
    assert response.json()["schedule_type"] == "interval"
    assert response.json()["schedule_config"] == {"every": "5m"}
    assert response.json()["schedule_description"] == "Every 5 minutes"


def test_it_accepts_the_schedule_as_one_string(service, make_job):
    run_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    once = make_job(schedule=run_at.isoformat())
    assert once["schedule_type"] == "once"
    assert dt.datetime.fromisoformat(once["next_run_at"]) == run_at
    cron = make_job(schedule="*/10 * * * * *")
    assert cron["schedule_type"] == "cron"
    assert cron["schedule_description"] == "Every 10 seconds"
    assert make_job(schedule="1h30m")["schedule_description"] == "Every 1 hour 30 minutes"


def test_a_duplicate_id_is_a_conflict(service, make_job):
    job = make_job()
    response = service.post(
        "/api/jobs",
        json={
            "id": job["id"],
            "name": "again",
            "type": "http",
            "configuration": {"url": "http://127.0.0.1/"},
            "schedule": "1h",
        },
    )
    assert response.status_code == 409
    assert response.json()["errors"] == {"id": ["Already taken."]}


def test_an_unknown_type_names_the_known_ones(service):
    response = service.post(
        "/api/jobs", json={"name": "x", "type": "nope", "configuration": {}, "schedule": "1h"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422 and body["status"] == "Unprocessable Entity"
    assert "type" in body["errors"]
    assert "http" in body["errors"]["type"][0] and "prompt" in body["errors"]["type"][0]


def test_configuration_is_validated_by_the_type(service):
    response = service.post(
        "/api/jobs",
        json={
            "name": "x",
            "type": "http",
            "configuration": {"url": "ftp://example"},
            "schedule": "1h",
        },
    )
    assert response.status_code == 422
    assert "configuration.url" in response.json()["errors"]
    missing = service.post(
        "/api/jobs", json={"name": "x", "type": "http", "configuration": {}, "schedule": "1h"}
    )
    assert missing.json()["errors"] == {"configuration.url": ["Missing data for required field."]}


def test_schedule_and_schedule_type_together_are_refused(service, target):
    response = service.post(
        "/api/jobs",
        json={
            "name": "x",
            "type": "http",
            "configuration": {"url": target.url("/ok")},
            "schedule": "5m",
            "schedule_type": "interval",
            "schedule_config": {"every": "5m"},
        },
    )
    assert response.status_code == 422
    assert "schedule" in response.json()["errors"]


def test_a_missing_schedule_is_refused(service, target):
    response = service.post(
        "/api/jobs", json={"name": "x", "type": "http", "configuration": {"url": target.url("/ok")}}
    )
    assert response.status_code == 422
    assert "schedule" in response.json()["errors"]


def test_the_shell_type_is_refused_when_the_server_has_it_off(start_service):
    service = start_service({"CRONWELL_SHELL_JOBS_ENABLED": "false"})
    response = service.post(
        "/api/jobs",
        json={"name": "x", "type": "shell", "configuration": {"command": "true"}, "schedule": "1h"},
    )
    assert response.status_code == 422
    assert "CRONWELL_SHELL_JOBS_ENABLED" in response.json()["errors"]["type"][0]


def test_the_leader_puts_a_new_job_in_apscheduler_s_store(service, make_job):
    """The job is the source of truth; the leader applies it to APScheduler's store with
    APScheduler's own add_job: a row that loads as the job, at the time the API said."""
    import pickle
    import sqlite3

    from apscheduler.job import Job as APSJob

    from app.scheduler import dispatch

    created = make_job(
        id="store-row",
        # A fire far ahead: the store must still hold the one the API answered with.
        schedule="0 0 1 1 *",
        timezone="Europe/Paris",
        misfire_grace_seconds=42,
    )

    def stored():
        with sqlite3.connect(service.db_path) as db:
            return db.execute(
                "SELECT s.next_run_time, s.job_state FROM apscheduler_jobs s"
                " JOIN jobs j ON j.id = s.id WHERE s.id = 'store-row' AND NOT j.sync_pending"
            ).fetchone()

    next_run_time, state = wait_for(stored)
    loaded = APSJob.__new__(APSJob)
    loaded.__setstate__(pickle.loads(state))
    assert loaded.func is dispatch.fire and list(loaded.args) == ["store-row"]
    assert str(loaded.trigger) == "crontab[0 0 1 1 *, Europe/Paris]"
    assert loaded.misfire_grace_time == 42
    next_run_at = dt.datetime.fromisoformat(created["next_run_at"])
    assert loaded.next_run_time == next_run_at
    assert next_run_time == next_run_at.timestamp()
    local = next_run_at.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.month, local.day, local.hour) == (1, 1, 0)
    assert next_run_at > dt.datetime.now(dt.UTC)


def test_a_fresh_process_can_answer_a_create_first(start_service, target):
    """A create answers before anything else in the process has used the ORM (an
    API-only process runs no scheduler queries, and its /healthz waits for a scheduler
    elsewhere)."""
    service = start_service({"CRONWELL_SCHEDULER_ENABLED": "false"}, wait=False)
    wait_for(lambda: _answers(service, "/api/openapi.json"))
    assert create_http_job(service, "first", target, schedule="1h")["name"] == "first"


def _answers(service, path: str) -> bool:
    try:
        return service.get(path).status_code == 200
    except requests.RequestException:
        return False


def test_every_refused_field_is_named_in_one_answer(service):
    answer = service.post(
        "/api/jobs",
        json={
            "name": "Many mistakes",
            "type": "http",
            "schedule": "every blue moon",
            "timezone": "Mars/Olympus",
            "configuration": {"method": "GET"},
            "concurrency_group": "nope",
        },
    )
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert {"schedule", "timezone", "configuration.url", "concurrency_group"} <= set(errors)
    assert errors["timezone"] == [
        "Unknown timezone 'Mars/Olympus'; use an IANA name like 'Europe/Paris'."
    ]
    assert service.get("/api/jobs", params={"q": "Many mistakes"}).json() == []
