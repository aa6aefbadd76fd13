"""POST /api/jobs/{id}/enable and /disable."""

import time


def test_disable_stops_runs_and_enable_resumes_them(service, make_job, target):
    job = make_job(schedule="1s")
    service.wait_executions(job["id"], 2)
    disabled = service.post(f"/api/jobs/{job['id']}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["is_enabled"] is False
    assert disabled.json()["next_run_at"] is None
    time.sleep(0.5)  # let a fire already handed out finish
    count = len(service.executions(job["id"]))
    time.sleep(2.5)
    assert len(service.executions(job["id"])) == count
    enabled = service.post(f"/api/jobs/{job['id']}/enable")
    assert enabled.json()["is_enabled"] is True and enabled.json()["next_run_at"] is not None
    service.wait_executions(job["id"], count + 1)


def test_disabling_a_disabled_job_is_a_no_op(service, make_job):
    job = make_job(is_enabled=False)
    assert job["next_run_at"] is None
    again = service.post(f"/api/jobs/{job['id']}/disable")
    assert again.status_code == 200
    assert again.json()["updated_at"] == job["updated_at"]


def test_enabling_an_enabled_job_keeps_its_phase(service, make_job):
    job = make_job(schedule="1h")
    again = service.post(f"/api/jobs/{job['id']}/enable")
    assert again.status_code == 200 and again.json()["next_run_at"] == job["next_run_at"]


def test_a_running_execution_finishes_after_disable(service, make_job):
    job = make_job(type="shell", configuration={"command": "sleep 1; echo done"})
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    from tests.support import wait_for

    wait_for(
        lambda: (
            service.get(f"/api/jobs/{job['id']}/executions/{run['id']}").json()["status"]
            == "running"
        )
    )
    service.post(f"/api/jobs/{job['id']}/disable")
    finished = service.wait_executions(job["id"], 1)[0]
    assert finished["status"] == "success" and finished["output"] == "done\n"
