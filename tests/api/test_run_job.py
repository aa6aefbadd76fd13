"""POST /api/jobs/{id}/run: run now, overlap, idempotency."""

import sqlite3

from tests.support import wait_for


def test_it_runs_now_and_points_at_the_execution(service, make_job, target):
    job = make_job()
    response = service.post(f"/api/jobs/{job['id']}/run")
    assert response.status_code == 202
    execution = response.json()
    assert execution["trigger"] == "manual" and execution["attempt"] == 1
    assert response.headers["Location"].endswith(
        f"/api/jobs/{job['id']}/executions/{execution['id']}"
    )
    marker = job["configuration"]["url"].split("job=")[1]
    wait_for(lambda: target.hits_for(marker))
    done = service.wait_executions(job["id"], 1)[0]
    assert done["status"] == "success" and done["result"] == {"status_code": 200}
    assert done["output"] == "hello from target"


def test_a_disabled_job_runs_on_request(service, make_job):
    job = make_job(is_enabled=False)
    assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
    assert service.wait_executions(job["id"], 1)[0]["status"] == "success"


def test_skip_policy_refuses_a_second_run_while_one_runs(service, make_job):
    job = make_job(type="shell", configuration={"command": "sleep 2"})
    first = service.post(f"/api/jobs/{job['id']}/run")
    assert first.status_code == 202
    second = service.post(f"/api/jobs/{job['id']}/run")
    assert second.status_code == 409
    assert f"execution {first.json()['id']}" in second.json()["message"]


def test_allow_policy_runs_side_by_side(service, make_job):
    job = make_job(type="shell", configuration={"command": "sleep 1"}, overlap_policy="allow")
    assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
    assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
    rows = service.wait_executions(job["id"], 2)
    assert all(r["status"] == "success" for r in rows)
    # They overlapped: the second started before the first finished.
    first, second = sorted(rows, key=lambda r: r["id"])
    assert second["started_at"] < first["finished_at"]


def test_an_idempotency_key_returns_the_run_it_started(service, make_job):
    job = make_job()
    headers = {"Idempotency-Key": "deploy-42"}
    first = service.post(f"/api/jobs/{job['id']}/run", headers=headers)
    again = service.post(f"/api/jobs/{job['id']}/run", headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    service.wait_executions(job["id"], 1)
    other = service.post(f"/api/jobs/{job['id']}/run", headers={"Idempotency-Key": "deploy-43"})
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert len(service.wait_executions(job["id"], 2)) == 2


def test_an_idempotency_key_older_than_a_day_starts_a_new_run(service, make_job):
    """The key's run is made 25 hours old in the database (as a day passing would): the
    same key then starts a new run, and the old run no longer answers to it."""
    job = make_job()
    headers = {"Idempotency-Key": "nightly-7"}
    first = service.post(f"/api/jobs/{job['id']}/run", headers=headers).json()
    service.wait_executions(job["id"], 1)
    with sqlite3.connect(service.db_path) as db:
        db.execute(
            "UPDATE executions SET created_at = datetime(created_at, '-25 hours') WHERE id = ?",
            (first["id"],),
        )
    again = service.post(f"/api/jobs/{job['id']}/run", headers=headers)
    assert again.status_code == 202 and again.json()["id"] != first["id"], again.text
    repeat = service.post(f"/api/jobs/{job['id']}/run", headers=headers)
    assert repeat.status_code == 200 and repeat.json()["id"] == again.json()["id"]
    assert len(service.wait_executions(job["id"], 2)) == 2


def test_running_an_unknown_job_is_404(service):
    assert service.post("/api/jobs/ghost/run").status_code == 404
