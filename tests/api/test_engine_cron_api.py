"""/api/engine/cron, as seed 003_a81654f082713c67 writes it, over the same jobs as /api/jobs."""

import json

import pytest

from app.schemas.cron import CronJobCreate
from tests.support import wait_for

CRON_ROUTES = {
    "/api/engine/cron": {"get", "post"},
    "/api/engine/cron/status": {"get"},
    "/api/engine/cron/{job_id}": {"get", "put", "delete"},
    "/api/engine/cron/{job_id}/trigger": {"post"},
    "/api/engine/cron/{job_id}/history": {"get"},
}
JOB_FIELDS = {
    "id", "name", "schedule", "agent_id", "enabled", "payload_type", "session_mode",
    "last_run_at", "last_status", "last_duration_ms", "last_error", "next_run_at",
    "run_count", "success_count", "fail_count", "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture(scope="module")
def service(start_service, target):
    return start_service({"CRONWELL_AGENT_WEBHOOK_URL": target.url("/agent-webhook")})


# -- the seed's "Verification", adapted ---------------------------------------------------


def test_the_models_validate_with_the_seed_defaults():
    loaded = CronJobCreate().load({"name": "Test", "schedule": "15m", "payload": "Do something"})
    assert loaded == {
        "name": "Test",
        "schedule": "15m",
        "type": "prompt",
        "is_enabled": True,
        "max_duration_seconds": 300,
        "retry_count": 0,
        "configuration": {
            "agent_id": "main",
            "payload": "Do something",
            "session_mode": "isolated",
        },
    }


def test_not_valid_is_refused_as_an_invalid_schedule_expression(service):
    response = service.post(
        "/api/engine/cron", json={"name": "Bad", "schedule": "not-valid", "payload": "x"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]["schedule"][0].startswith("Invalid schedule expression")


def test_the_eight_routes_are_served_and_in_the_spec(service):
    spec = service.get("/api/openapi.json").json()
    served = {p: set(spec["paths"][p]) - {"parameters"} for p in CRON_ROUTES if p in spec["paths"]}
    assert served == CRON_ROUTES
    assert sum(len(m) for m in served.values()) == 8


# -- the whole API ------------------------------------------------------------------------


def test_the_seed_api_end_to_end(service, target):
    created = service.post(
        "/api/engine/cron",
        json={
            "id": "daily-digest",
            "name": "Daily digest",
            "schedule": "0 8 * * *",
            "agent_id": "writer",
            "payload": "Summarise the news",
            "payload_type": "skill",
            "session_mode": "persistent",
            "max_duration_seconds": 60,
            "retry_count": 1,
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert set(job) == JOB_FIELDS
    assert (job["agent_id"], job["payload_type"], job["session_mode"]) == (
        "writer",
        "skill",
        "persistent",
    )
    assert job["enabled"] is True and job["next_run_at"]

    listing = service.get("/api/engine/cron").json()
    assert set(listing) == {"total", "jobs", "scheduler_running"}
    assert listing["scheduler_running"] is True
    assert listing["total"] == len(listing["jobs"])
    assert "daily-digest" in {j["id"] for j in listing["jobs"]}

    status = service.get("/api/engine/cron/status").json()
    assert set(status) == {"running", "active_executions", "active_job_ids", "max_concurrent"}
    assert status["running"] is True and status["max_concurrent"] == 10

    assert service.get("/api/engine/cron/daily-digest").json()["name"] == "Daily digest"

    updated = service.put(
        "/api/engine/cron/daily-digest", json={"payload": "Only headlines", "enabled": False}
    )
    assert updated.status_code == 200
    assert updated.json()["enabled"] is False and updated.json()["next_run_at"] is None
    assert updated.json()["agent_id"] == "writer", "unmentioned configuration is kept"

    triggered = service.post("/api/engine/cron/daily-digest/trigger")
    assert triggered.status_code == 200
    assert triggered.json() == {
        "triggered": True,
        "job_id": "daily-digest",
        "message": "Job 'daily-digest' triggered — running in background",
    }
    hit = wait_for(lambda: target.hits_for("/agent-webhook"))[-1]
    body = json.loads(hit["body"])
    assert set(body) == {
        "job_id",
        "execution_id",
        "scheduled_at",
        "trigger",
        "agent_id",
        "payload_type",
        "payload",
        "session_mode",
    }
    assert body["job_id"] == "daily-digest" and body["agent_id"] == "writer"
    run = service.get(f"/api/jobs/daily-digest/executions/{body['execution_id']}").json()
    assert (body["scheduled_at"], body["trigger"]) == (run["scheduled_at"], "manual")
    assert (body["payload_type"], body["payload"], body["session_mode"]) == (
        "skill",
        "Only headlines",
        "persistent",
    )

    wait_for(
        lambda: service.get("/api/engine/cron/daily-digest/history").json()["entries"][0]["success"]
    )
    history = service.get("/api/engine/cron/daily-digest/history", params={"limit": 10}).json()
    assert history["job_id"] == "daily-digest" and history["total"] == 1
    entry = history["entries"][0]
    assert entry["id"] == body["execution_id"]
    assert entry["action"] == "execution" and entry["skill"] == "skill"
    assert entry["success"] is True and entry["duration_ms"] is not None
    details = entry["details"]
    assert (details["status"], details["trigger"], details["attempt"], details["error"]) == (
        "success",
        "manual",
        1,
        None,
    )

    assert service.delete("/api/engine/cron/daily-digest").status_code == 204
    assert service.get("/api/engine/cron/daily-digest").status_code == 404
    assert service.delete("/api/engine/cron/daily-digest").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_duration_seconds": 9}, "max_duration_seconds"),
        ({"max_duration_seconds": 3601}, "max_duration_seconds"),
        ({"retry_count": 6}, "retry_count"),
        ({"payload_type": "http"}, "payload_type"),
        ({"session_mode": "forever"}, "session_mode"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"id": "x" * 101}, "id"),
        ({"agent_id": "a" * 101}, "agent_id"),
        ({"schedule": "x" * 101}, "schedule"),
        ({"schedule": "2030-01-01T00:00:00+00:00"}, "schedule"),
        ({"payload": None}, "payload"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_the_seed_bounds_are_enforced(service, body, field):
    base = {"name": "bounds", "schedule": "1h", "payload": "p"}
    response = service.post("/api/engine/cron", json={**base, **body})
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]


def test_a_put_with_no_fields_is_400_and_unknown_jobs_are_404(service):
    service.post(
        "/api/engine/cron", json={"id": "put-empty", "name": "n", "schedule": "1h", "payload": "p"}
    )
    for body in ({}, {"name": None}):
        response = service.put("/api/engine/cron/put-empty", json=body)
        assert response.status_code == 400
        assert response.json()["message"] == "No fields to update"
    assert service.put("/api/engine/cron/nope", json={"name": "x"}).status_code == 404
    assert service.get("/api/engine/cron/nope").status_code == 404
    assert service.post("/api/engine/cron/nope/trigger").status_code == 404
    assert service.get("/api/engine/cron/nope/history").status_code == 404
    assert (
        service.get("/api/engine/cron/put-empty/history", params={"limit": 501}).status_code == 422
    )


# -- one set of jobs, two faces -----------------------------------------------------------


def test_a_job_made_through_the_cron_api_is_managed_through_api_jobs(service):
    service.post(
        "/api/engine/cron",
        json={"id": "via-cron", "name": "v", "schedule": "*/5 * * * *", "payload": "p"},
    )
    job = service.get("/api/jobs/via-cron").json()
    assert job["type"] == "prompt" and job["schedule_type"] == "cron"
    assert job["configuration"] == {"agent_id": "main", "payload": "p", "session_mode": "isolated"}
    service.post("/api/jobs/via-cron/disable")
    assert service.get("/api/engine/cron/via-cron").json()["enabled"] is False
    service.delete("/api/jobs/via-cron")
    assert service.get("/api/engine/cron/via-cron").status_code == 404
    service.post("/api/jobs/via-cron/restore")
    assert service.get("/api/engine/cron/via-cron").status_code == 200


def test_a_job_made_through_api_jobs_is_managed_through_the_cron_api(service, target):
    created = service.post(
        "/api/jobs",
        json={
            "id": "via-jobs",
            "name": "j",
            "type": "pipeline",
            "schedule": "15m",
            "configuration": {"payload": "etl", "agent_id": "ops"},
        },
    )
    assert created.status_code == 201
    seen = service.get("/api/engine/cron/via-jobs").json()
    assert (seen["schedule"], seen["payload_type"], seen["agent_id"]) == ("15m", "pipeline", "ops")
    service.put("/api/engine/cron/via-jobs", json={"schedule": "30m", "agent_id": "night"})
    job = service.get("/api/jobs/via-jobs").json()
    assert job["schedule"] == "30m" and job["configuration"]["agent_id"] == "night"
    service.post("/api/engine/cron/via-jobs/trigger")
    wait_for(
        lambda: (
            service.executions("via-jobs")
            and service.executions("via-jobs")[0]["status"] == "success"
        )
    )
    history = service.get("/api/engine/cron/via-jobs/history").json()
    assert [e["id"] for e in history["entries"]] == [
        e["id"] for e in service.executions("via-jobs")
    ]
    service.delete("/api/engine/cron/via-jobs")
    assert service.get("/api/jobs/via-jobs").status_code == 404
    listed = service.get("/api/jobs", params={"include_deleted": "true", "q": "j"}).json()
    assert any(j["id"] == "via-jobs" and j["deleted_at"] for j in listed)


def test_an_http_job_shows_in_the_cron_list_with_its_own_type(service, target):
    service.post(
        "/api/jobs",
        json={
            "id": "plain-http",
            "name": "h",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": target.url("/ok")},
        },
    )
    seen = service.get("/api/engine/cron/plain-http").json()
    assert seen["payload_type"] == "http" and seen["agent_id"] == ""


def test_without_a_webhook_an_agent_run_fails_saying_how_to_configure_it(start_service):
    bare = start_service()
    bare.post(
        "/api/engine/cron", json={"id": "no-hook", "name": "n", "schedule": "1h", "payload": "p"}
    )
    bare.post("/api/engine/cron/no-hook/trigger")
    row = bare.wait_executions("no-hook", 1)[0]
    assert row["status"] == "failed"
    assert "CRONWELL_AGENT_WEBHOOK_URL" in row["error"]


def test_it_answers_503_when_no_scheduler_runs_anywhere(start_service):
    api_only = start_service({"CRONWELL_SCHEDULER_ENABLED": "false"}, wait=False)
    wait_for(lambda: _answers(api_only), timeout=20)
    response = api_only.get("/api/engine/cron")
    assert response.status_code == 503
    assert response.json()["message"] == "Scheduler not available — engine not started"
    assert api_only.get("/api/engine/cron/status").status_code == 503
    assert api_only.get("/healthz").status_code == 503
    assert api_only.get("/api/jobs").status_code == 200, "the main API still serves"


def _answers(service) -> bool:
    try:
        service.get("/healthz", timeout=1)
        return True
    except Exception:
        return False
