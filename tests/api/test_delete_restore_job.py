"""DELETE /api/jobs/{id} (soft) and POST /api/jobs/{id}/restore."""

import datetime as dt
import time


def test_delete_hides_the_job_keeps_history_and_restore_brings_it_back(service, make_job):
    job = make_job(schedule="1s")
    service.wait_executions(job["id"], 1)
    assert service.delete(f"/api/jobs/{job['id']}").status_code == 204
    deleted_at = dt.datetime.now(dt.UTC)
    assert service.get(f"/api/jobs/{job['id']}").status_code == 404
    assert service.get(f"/api/jobs/{job['id']}/executions").status_code == 404
    assert service.delete(f"/api/jobs/{job['id']}").status_code == 404
    time.sleep(2.5)  # unscheduled: no fires while deleted
    restored_at = dt.datetime.now(dt.UTC)
    restored = service.post(f"/api/jobs/{job['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["deleted_at"] is None
    assert restored.json()["next_run_at"] is not None
    history = service.executions(job["id"])
    assert any(dt.datetime.fromisoformat(e["scheduled_at"]) < deleted_at for e in history), (
        "history is kept across delete and restore"
    )
    in_gap = [
        e
        for e in history
        if deleted_at + dt.timedelta(seconds=0.5)
        < dt.datetime.fromisoformat(e["scheduled_at"])
        < restored_at
    ]
    assert in_gap == []
    service.wait_executions(job["id"], len(history) + 1)


def test_a_deleted_id_stays_taken(service, make_job):
    job = make_job()
    service.delete(f"/api/jobs/{job['id']}")
    response = service.post(
        "/api/jobs",
        json={
            "id": job["id"],
            "name": "x",
            "type": "http",
            "configuration": {"url": "http://127.0.0.1/"},
            "schedule": "1h",
        },
    )
    assert response.status_code == 409
    assert "deleted job" in response.json()["message"]


def test_restoring_a_live_job_is_a_no_op(service, make_job):
    job = make_job()
    response = service.post(f"/api/jobs/{job['id']}/restore")
    assert response.status_code == 200
    assert response.json()["updated_at"] == job["updated_at"]


def test_restoring_an_unknown_job_is_404(service):
    assert service.post("/api/jobs/never-was/restore").status_code == 404
