"""max_duration_seconds ends an attempt and records `timeout` within a second, for every type."""

import json

from tests.support import process_alive, wait_for

SERVICE_ENV = {
    "CRONWELL_JOB_TYPES": json.dumps(
        {"stubborn": "tests.hostjobs:stubborn", "polite": "tests.hostjobs:polite"}
    ),
}


def test_a_shell_timeout_kills_the_whole_process_group(service, make_job, tmp_path):
    pidfile = tmp_path / "child.pid"
    job = make_job(
        type="shell",
        configuration={"command": f"sleep 30 & echo $! > {pidfile}; echo started; wait"},
        max_duration_seconds=1,
    )
    service.post(f"/api/jobs/{job['id']}/run")
    row = service.wait_executions(job["id"], 1)[0]
    assert row["status"] == "timeout"
    assert 1000 <= row["duration_ms"] < 2000
    assert "max_duration_seconds=1" in row["error"]
    child = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip()))
    wait_for(lambda: not process_alive(child), timeout=3)
    # The output printed before the kill is kept.
    wait_for(lambda: service.executions(job["id"])[0]["output"] == "started\n", timeout=3)


def test_an_http_timeout_abandons_a_slow_server(service, make_job, target):
    job = make_job(configuration={"url": target.url("/slow/8")}, max_duration_seconds=1)
    service.post(f"/api/jobs/{job['id']}/run")
    row = service.wait_executions(job["id"], 1, timeout=5)[0]
    assert row["status"] == "timeout"
    assert 1000 <= row["duration_ms"] < 2000


def test_a_host_handler_that_ignores_its_token_cannot_hold_its_slot(service, make_job):
    job = make_job(type="stubborn", configuration={"seconds": 6}, max_duration_seconds=1)
    service.post(f"/api/jobs/{job['id']}/run")
    row = service.wait_executions(job["id"], 1, timeout=4)[0]
    assert row["status"] == "timeout" and row["duration_ms"] < 2000
    # The job is free again at once: the next run starts though the old thread sleeps on.
    second = service.post(f"/api/jobs/{job['id']}/run")
    assert second.status_code == 202
    wait_for(
        lambda: (
            service.get(f"/api/jobs/{job['id']}/executions/{second.json()['id']}").json()["status"]
            != "queued"
        ),
        timeout=2,
    )


def test_a_polite_host_handler_stops_on_its_token(service, make_job):
    job = make_job(type="polite", configuration={"seconds": 30}, max_duration_seconds=1)
    service.post(f"/api/jobs/{job['id']}/run")
    row = service.wait_executions(job["id"], 1, timeout=4)[0]
    assert row["status"] == "timeout"
    # The handler returned after the token and its result was attached to the row.
    wait_for(
        lambda: service.executions(job["id"])[0]["result"] == {"stopped_early": True}, timeout=3
    )


def test_a_timed_out_run_does_not_block_later_fires(service, make_job):
    job = make_job(
        type="shell", configuration={"command": "sleep 10"}, max_duration_seconds=1, schedule="2s"
    )
    rows = service.wait_executions(job["id"], 2, timeout=10)
    assert [r["status"] for r in rows[:2]] == ["timeout", "timeout"]
    assert not any(r["status"] == "skipped" for r in rows)
