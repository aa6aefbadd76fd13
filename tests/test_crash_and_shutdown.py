"""kill -9 and SIGTERM: no run vanishes, jobs keep their schedules, no process is left over."""

import datetime as dt
import signal
import time

from tests.support import create_http_job, process_alive, wait_for


def _shell_job(service, job_id, command, **extra):
    response = service.post(
        "/api/jobs",
        json={
            "id": job_id,
            "name": job_id,
            "type": "shell",
            "schedule": "0 3 * * *",
            "configuration": {"command": command},
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_after_kill_9_running_and_queued_rows_are_interrupted(start_service, tmp_path):
    service = start_service({"CRONWELL_MAX_CONCURRENT": "1"})
    pidfile = tmp_path / "sleeper.pid"
    long = _shell_job(service, "crash-long", f"sleep 60 & echo $! > {pidfile}; wait")
    waiting = _shell_job(service, "crash-waiting", "true")
    run = service.post("/api/jobs/crash-long/run").json()
    wait_for(
        lambda: (
            service.get(f"/api/jobs/crash-long/executions/{run['id']}").json()["status"]
            == "running"
        )
    )
    queued = service.post("/api/jobs/crash-waiting/run").json()
    assert queued["status"] == "queued"
    child = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip()))
    service.kill()
    assert process_alive(child), "a shell job outlives kill -9 of the service..."
    again = start_service({"CRONWELL_MAX_CONCURRENT": "1"}, workdir=service.workdir)
    crashed = again.get(f"/api/jobs/crash-long/executions/{run['id']}").json()
    assert crashed["status"] == "interrupted"
    assert "stopped while this run was in progress" in crashed["error"]
    never_started = again.get(f"/api/jobs/crash-waiting/executions/{queued['id']}").json()
    assert never_started["status"] == "interrupted"
    assert "stopped before this run's start was recorded" in never_started["error"]
    wait_for(lambda: not process_alive(child), timeout=3)  # ...until the next start kills it
    # Jobs keep their schedules.
    for job in (long, waiting):
        assert again.get(f"/api/jobs/{job['id']}").json()["next_run_at"] == job["next_run_at"]
    body = again.get("/api/jobs/crash-long").json()
    assert body["last_status"] == "interrupted" and body["fail_count"] == 1


def test_sigterm_lets_short_runs_finish_and_interrupts_the_rest(start_service, tmp_path):
    env = {"CRONWELL_SHUTDOWN_GRACE_SECONDS": "3"}
    service = start_service(env)
    pidfile = tmp_path / "long.pid"
    _shell_job(service, "term-short", "sleep 1; echo finished")
    _shell_job(service, "term-long", f"sleep 60 & echo $! > {pidfile}; wait")
    short = service.post("/api/jobs/term-short/run").json()
    long = service.post("/api/jobs/term-long/run").json()
    wait_for(lambda: service.get("/api/scheduler").json()["active_executions"] == 2)
    child = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip()))
    service.signal(signal.SIGTERM)
    service.proc.wait(timeout=20)
    assert not process_alive(child)
    again = start_service(env, workdir=service.workdir)
    finished = again.get(f"/api/jobs/term-short/executions/{short['id']}").json()
    assert finished["status"] == "success" and finished["output"] == "finished\n"
    ended = again.get(f"/api/jobs/term-long/executions/{long['id']}").json()
    assert ended["status"] == "interrupted"
    assert "shut down before the run finished" in ended["error"]
    assert 2500 <= ended["duration_ms"] < 6000


def test_a_fire_written_ahead_and_left_by_a_clean_stop_ends_interrupted(start_service, target):
    """A fire written ahead of its time (here up to 5 s) is an execution clients can see:
    left queued by a SIGTERM and its time passed before the restart, it ends `interrupted`
    under its own id, as the contract says; the job then goes on."""
    env = {"CRONWELL_PREFIRE_SECONDS": "5"}
    service = start_service(env)
    run_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    create_http_job(service, "planned-once", target, run_at.isoformat())
    create_http_job(service, "planned-every", target, "4s")
    planned = {
        job_id: wait_for(lambda j=job_id: service.executions(j, status="queued"))[0]
        for job_id in ("planned-once", "planned-every")
    }
    service.signal(signal.SIGTERM)
    service.proc.wait(timeout=20)
    last = max(dt.datetime.fromisoformat(row["scheduled_at"]) for row in planned.values())
    time.sleep(max(0.0, (last - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
    again = start_service(env, workdir=service.workdir)
    for job_id, row in planned.items():
        ended = again.get(f"/api/jobs/{job_id}/executions/{row['id']}").json()
        assert ended["status"] == "interrupted", ended
        assert ended["scheduled_at"] == row["scheduled_at"]
    # The interval job goes on from its next fire.
    wait_for(lambda: again.executions("planned-every", status="success"), timeout=10)
