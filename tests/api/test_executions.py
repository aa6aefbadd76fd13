"""GET /api/jobs/{id}/executions[/{exec_id}] and POST .../cancel."""

import json

from tests.support import until_file, wait_for


def test_executions_are_newest_first_paginated_and_filterable(service, make_job, target):
    job = make_job(schedule="1s", configuration={"url": target.url("/ok")})
    service.wait_executions(job["id"], 3)
    page = service.get(f"/api/jobs/{job['id']}/executions", params={"page_size": 2})
    assert page.status_code == 200
    ids = [e["id"] for e in page.json()]
    assert len(ids) == 2 and ids[0] > ids[1]
    assert json.loads(page.headers["X-Pagination"])["total"] >= 3
    success = service.executions(job["id"], status="success")
    assert success and all(e["status"] == "success" for e in success)
    assert (
        service.get(f"/api/jobs/{job['id']}/executions", params={"status": "bogus"}).status_code
        == 422
    )
    for row in success:
        assert row["trigger"] == "schedule"
        assert row["started_at"] >= row["scheduled_at"]
        assert row["duration_ms"] is not None and row["finished_at"] >= row["started_at"]


def test_an_execution_of_another_job_is_404(service, make_job):
    one, two = make_job(), make_job()
    run = service.post(f"/api/jobs/{one['id']}/run").json()
    assert service.get(f"/api/jobs/{one['id']}/executions/{run['id']}").status_code == 200
    assert service.get(f"/api/jobs/{two['id']}/executions/{run['id']}").status_code == 404


def test_cancel_kills_a_running_shell_job(service, make_job, tmp_path):
    marker = tmp_path / "after"
    job = make_job(type="shell", configuration={"command": f"sleep 30; touch {marker}"})
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    url = f"/api/jobs/{job['id']}/executions/{run['id']}"
    wait_for(lambda: service.get(url).json()["status"] == "running")
    response = service.post(url + "/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    again = service.post(url + "/cancel")
    assert again.status_code == 409
    assert not marker.exists()


def test_cancel_of_a_queued_retry_records_cancelled(service, make_job, target):
    job = make_job(
        configuration={"url": target.url("/status/500")}, retry_count=1, retry_delay_seconds=60
    )
    service.post(f"/api/jobs/{job['id']}/run")
    retry = wait_for(
        lambda: [
            e for e in service.executions(job["id"], status="queued") if e["trigger"] == "retry"
        ]
    )[0]
    assert retry["attempt"] == 2
    response = service.post(f"/api/jobs/{job['id']}/executions/{retry['id']}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"


def test_a_running_shell_run_s_output_is_readable_as_it_prints(service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    command = "echo first line; echo second line; " + until_file(go_on, then="echo last line")
    job = make_job(type="shell", configuration={"command": command})
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    url = f"/api/jobs/{job['id']}/executions/{run['id']}"
    # Within about a second of printing, while the command still runs.
    live = wait_for(lambda: (e := service.get(url).json())["output"] and e, timeout=3)
    assert live["status"] == "running"
    assert live["output"] == "first line\nsecond line\n"
    go_on.touch()
    done = wait_for(lambda: (e := service.get(url).json())["status"] == "success" and e)
    assert done["output"] == "first line\nsecond line\nlast line\n"


def test_a_timed_out_shell_run_keeps_what_it_printed(service, make_job):
    job = make_job(
        type="shell",
        configuration={"command": "echo before the deadline; sleep 30"},
        max_duration_seconds=1,
    )
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    url = f"/api/jobs/{job['id']}/executions/{run['id']}"
    done = wait_for(lambda: (e := service.get(url).json())["status"] == "timeout" and e)
    assert done["output"] == "before the deadline\n"
