"""PUT and PATCH /api/jobs/{id}."""

import datetime as dt


def test_it_changes_only_the_fields_given(service, make_job):
    job = make_job(description="before", retry_count=2)
    response = service.put(f"/api/jobs/{job['id']}", json={"name": "renamed"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "renamed"
    assert updated["description"] == "before" and updated["retry_count"] == 2
    assert updated["next_run_at"] == job["next_run_at"]  # no schedule change, same phase
    assert updated["updated_at"] > job["updated_at"]


def test_a_new_schedule_recomputes_next_run_at(service, make_job):
    job = make_job(schedule="1h")
    response = service.patch(
        f"/api/jobs/{job['id']}",
        json={"schedule_type": "cron", "schedule_config": {"expression": "0 3 * * *"}},
    )
    assert response.status_code == 200, response.text
    next_run = dt.datetime.fromisoformat(response.json()["next_run_at"])
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 0, 0)
    assert response.json()["schedule_description"] == "At 03:00 AM"


def test_a_new_timezone_rereads_the_cron(service, make_job):
    job = make_job(schedule="0 9 * * *")
    response = service.put(f"/api/jobs/{job['id']}", json={"timezone": "Asia/Tokyo"})
    next_run = dt.datetime.fromisoformat(response.json()["next_run_at"])
    assert next_run.hour == 0  # 09:00 in Tokyo is 00:00 UTC


def test_a_new_type_revalidates_the_configuration(service, make_job):
    job = make_job()
    refused = service.put(f"/api/jobs/{job['id']}", json={"type": "prompt"})
    assert refused.status_code == 422
    assert "configuration.payload" in refused.json()["errors"]
    accepted = service.put(
        f"/api/jobs/{job['id']}", json={"type": "prompt", "configuration": {"payload": "hi"}}
    )
    assert accepted.status_code == 200
    assert accepted.json()["configuration"] == {
        "payload": "hi",
        "agent_id": "main",
        "session_mode": "isolated",
    }


def test_an_empty_body_is_refused_and_nothing_changes(service, make_job):
    job = make_job()
    response = service.put(f"/api/jobs/{job['id']}", json={})
    assert response.status_code == 422
    assert response.json()["message"]
    assert service.get(f"/api/jobs/{job['id']}").json()["updated_at"] == job["updated_at"]


def test_an_invalid_schedule_is_refused_and_the_old_one_kept(service, make_job):
    job = make_job(schedule="0 2 * * *")
    response = service.put(f"/api/jobs/{job['id']}", json={"schedule": "61 * * * *"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"schedule": ["minute: 61 is out of range 0-59."]}
    assert service.get(f"/api/jobs/{job['id']}").json()["schedule"] == "0 2 * * *"


def test_updating_an_unknown_job_is_404(service):
    assert service.put("/api/jobs/missing-job", json={"name": "x"}).status_code == 404
