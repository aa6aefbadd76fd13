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


def test_after_kill_9_a_running_row_is_interrupted_and_a_queued_one_runs(start_service, tmp_path):
    """A run in progress at a kill -9 is recorded interrupted once its lease ends (its
    process group killed); a run that was only queued was never claimed, and runs."""
    env = {"CRONWELL_MAX_CONCURRENT": "1", "CRONWELL_LEASE_SECONDS": "3"}
    service = start_service(env)
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
    again = start_service(env, workdir=service.workdir)
    path = f"/api/jobs/crash-long/executions/{run['id']}"
    crashed = wait_for(
        lambda: (e := again.get(path).json())["status"] != "running" and e, timeout=10
    )
    assert crashed["status"] == "interrupted"
    assert "stopped renewing its lease" in crashed["error"]
    wait_for(lambda: not process_alive(child), timeout=3)  # ...until its lease ends
    later = wait_for(
        lambda: (
            (e := again.get(f"/api/jobs/crash-waiting/executions/{queued['id']}").json())
            and e["status"] not in ("queued", "running")
            and e
        ),
        timeout=10,
    )
    assert later["status"] == "success"
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


def test_a_fire_written_ahead_and_left_by_a_clean_stop_runs_after_the_restart(
    start_service, target
):
    """A fire written ahead of its time (here up to 5 s) is an execution clients can see:
    left queued by a SIGTERM and its time passed before the restart (within its grace
    time), it runs under its own id; the job then goes on."""
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
        path = f"/api/jobs/{job_id}/executions/{row['id']}"
        ended = wait_for(
            lambda p=path: (e := again.get(p).json())["status"] not in ("queued", "running") and e
        )
        assert ended["status"] == "success", ended
        assert ended["scheduled_at"] == row["scheduled_at"]
    # The interval job goes on from its next fire.
    wait_for(lambda: again.executions("planned-every", status="success"), timeout=10)
