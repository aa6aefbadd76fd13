"""The ``cronwell`` command's job, run, log and preview commands against a real service:
its output, and exit codes 0 done, 1 refused or failed, 2 bad usage."""

from __future__ import annotations

import json
import subprocess
import time

from tests.support import free_port, until_file
from tests.support.cli import CRONWELL, cronwell

TOKEN = "cli-token-8d2a"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _job(service, job_id: str, command: str, **fields) -> dict:
    body = {"id": job_id, "name": job_id, "type": "shell", "schedule": "1h",
            "configuration": {"command": command}, **fields}  # fmt: skip
    response = service.post("/api/jobs", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def run(service, *args: str, **kwargs):
    return cronwell(service, *args, token=TOKEN, **kwargs)


def test_jobs_run_wait_exits_0_on_success_and_1_on_failure(service):
    _job(service, "cli-ok", "echo fine")
    _job(service, "cli-flaky", "exit 3", retry_count=1, retry_delay_seconds=1)
    ok = run(service, "jobs", "run", "cli-ok", "--wait")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1].endswith("success")
    failed = run(service, "jobs", "run", "cli-flaky", "--wait")
    assert failed.returncode == 1
    last = failed.stdout.splitlines()[-1]
    assert "failed: Exit code 3." in last
    # It waited for the retry: the line is about the second attempt.
    runs = service.get("/api/jobs/cli-flaky/executions", headers=AUTH).json()
    assert len(runs) == 2 and last.startswith(f"run {runs[0]['id']} failed")


def test_jobs_run_set_overrides_the_configuration_for_that_run(service):
    _job(service, "cli-set", "echo $GREETING")
    service.put("/api/jobs/cli-set", json={"configuration": {
        "command": "echo $GREETING", "env": {"GREETING": "hello"}}}, headers=AUTH)  # fmt: skip
    result = run(service, "jobs", "run", "cli-set", "--set", 'env={"GREETING": "bonjour"}',
                 "--wait")  # fmt: skip
    assert result.returncode == 0, result.stderr
    [latest] = service.get("/api/jobs/cli-set/executions", headers=AUTH).json()
    assert latest["output"] == "bonjour\n"
    assert latest["configuration_overrides"] == {"env": {"GREETING": "bonjour"}}
    refused = run(service, "jobs", "run", "cli-set", "--set", "cwd=")
    assert refused.returncode == 1
    assert "configuration.cwd" in refused.stderr and "Traceback" not in refused.stderr
    usage = run(service, "jobs", "run", "cli-set", "--set", "no-equals-sign")
    assert usage.returncode == 2 and "KEY=VALUE" in usage.stderr


def test_logs_follow_prints_a_running_run_s_output_as_it_comes(service, tmp_path):
    go_on = tmp_path / "go-on"
    _job(service, "cli-logs", "echo first; " + until_file(go_on, then="echo second"))
    started = service.post("/api/jobs/cli-logs/run", headers=AUTH).json()
    follower = subprocess.Popen(
        [str(CRONWELL), "--url", service.base_url, "--token", TOKEN, "logs", "cli-logs",
         str(started["id"]), "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"  # while the run still goes
        assert follower.poll() is None
        go_on.touch()
        rest, errors = follower.communicate(timeout=15)
    finally:
        follower.kill()
    assert rest == "second\n"
    assert follower.returncode == 0
    assert f"[run {started['id']} success]" in errors
    plain = run(service, "logs", "cli-logs", str(started["id"]))
    assert plain.stdout == "first\nsecond\n"


def test_list_show_runs_and_state_commands(service):
    _job(service, "cli-list", "true", tags=["cli", "blue"])
    _job(service, "cli-list-2", "true", tags=["cli"])
    listed = run(service, "jobs", "list", "--tag", "cli", "--tag", "blue")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["ID", "cli-list"]
    as_json = json.loads(run(service, "jobs", "list", "--tag", "cli", "--json").stdout)
    assert {job["id"] for job in as_json} == {"cli-list", "cli-list-2"}
    shown = run(service, "jobs", "show", "cli-list")
    assert "schedule_description: Every hour" in shown.stdout
    assert run(service, "jobs", "disable", "cli-list").returncode == 0
    assert service.get("/api/jobs/cli-list", headers=AUTH).json()["is_enabled"] is False
    assert run(service, "jobs", "enable", "cli-list").returncode == 0
    assert run(service, "jobs", "delete", "cli-list").returncode == 0
    assert service.get("/api/jobs/cli-list", headers=AUTH).status_code == 404
    assert run(service, "jobs", "restore", "cli-list").returncode == 0
    assert run(service, "jobs", "run", "cli-list", "--wait").returncode == 0
    runs = run(service, "runs", "cli-list", "--limit", "5")
    assert runs.stdout.splitlines()[1].split()[1:3] == ["success", "manual"]


def test_preview_prints_the_description_times_and_warnings(service):
    result = run(service, "preview", "30 2 * * *", "--timezone", "Europe/Paris", "--count", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("At 02:30 AM")
    assert len([line for line in lines if line.startswith("  20")]) == 2
    assert any(line.startswith("warning: ") for line in lines)
    bad = run(service, "preview", "99 * * * *")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: schedule:")


def test_errors_say_what_went_wrong_with_the_contract_s_exit_codes(service):
    missing = run(service, "jobs", "show", "no-such-job")
    assert missing.returncode == 1 and missing.stderr == "Error: Job 'no-such-job' not found.\n"
    no_token = cronwell(service, "jobs", "list")
    assert no_token.returncode == 1 and "Bearer" in no_token.stderr
    unknown = run(service, "jobs", "frobnicate")
    assert unknown.returncode == 2
    port = free_port()
    started = time.monotonic()
    down = subprocess.run(
        [str(CRONWELL), "--url", f"http://127.0.0.1:{port}", "jobs", "list"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert down.returncode == 1 and "Cannot reach the service" in down.stderr
    assert "Traceback" not in down.stderr and time.monotonic() - started < 10


def test_workers_lists_each_worker_with_its_state_and_load(service):
    done = run(service, "workers")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:3] == ["WORKER", "STATE", "RUNNING"]
    assert len(rows) == 1 and " alive " in f" {rows[0]} " and "/10" in rows[0]
    assert rows[0].rstrip().endswith("yes")  # the one worker leads
    listed = json.loads(run(service, "workers", "--json").stdout)
    assert [w["state"] for w in listed] == ["alive"]
