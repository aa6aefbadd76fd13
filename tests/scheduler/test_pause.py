"""Pausing the whole service: real fires on a one-second interval are skipped while paused
(and nothing of theirs runs), run-now still runs, the pause holds across a restart, and
resuming with catch_up gives each job that skipped fires one run."""

import time

from tests.support import scrape, wait_for
from tests.support.cli import cronwell

TOKEN = "pause-token-4411"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENV = {"CRONWELL_API_TOKEN": TOKEN}


def ran(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_pause_skips_every_fire_holds_across_a_restart_and_catches_up(start_service, tmp_path):
    service = start_service(ENV)
    service.http.headers.update(AUTH)
    log = tmp_path / "ran.log"
    made = service.post("/api/jobs", json={
        "id": "every-second", "name": "every second", "type": "shell", "schedule": "1s",
        "configuration": {"command": f"echo $CRONWELL_EXECUTION_ID >> {log}"}})  # fmt: skip
    assert made.status_code == 201, made.text
    wait_for(lambda: len(ran(log)) >= 2, timeout=20)

    paused = service.post("/api/scheduler/pause", json={"reason": "database upgrade"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["paused_by"] == "token"
    state = service.get("/api/scheduler").json()
    assert (state["paused"], state["pause_reason"]) == (True, "database upgrade")
    assert [s.value for s in scrape(service, "cronwell_scheduler_paused")] == [1.0]
    before = set(ran(log))
    time.sleep(3.5)  # three fires or more, each recorded skipped
    skipped = service.executions("every-second", status="skipped")
    assert len(skipped) >= 3
    assert {e["error"] for e in skipped} == {"paused: database upgrade"}
    # A run already going when the pause came may end meanwhile; nothing starts after.
    started_since = [e for e in service.executions("every-second")
                     if e["status"] != "skipped" and e["started_at"]
                     and e["started_at"] > paused.json()["paused_at"]]  # fmt: skip
    assert started_since == []
    # Run-now still runs.
    manual = service.post("/api/jobs/every-second/run").json()
    wait_for(lambda: str(manual["id"]) in ran(log), timeout=10)

    # The pause is in the database: a restart keeps it.
    service.stop()
    service = start_service(ENV, workdir=service.workdir)
    service.http.headers.update(AUTH)
    assert service.get("/api/scheduler").json()["paused"] is True
    count = len(service.executions("every-second", status="skipped"))
    wait_for(lambda: len(service.executions("every-second", status="skipped")) >= count + 2,
             timeout=15)  # fmt: skip
    assert set(ran(log)) == before | {str(manual["id"])}

    resumed = service.post("/api/scheduler/resume", json={"catch_up": True})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["paused"] is False
    (catch_up,) = resumed.json()["catch_up_runs"]
    wait_for(lambda: str(catch_up) in ran(log), timeout=10)
    # Its line is written before its outcome is recorded: wait for the outcome.
    run = wait_for(
        lambda: (e := service.get(f"/api/jobs/every-second/executions/{catch_up}").json())
        and e["status"] not in ("queued", "running") and e, timeout=10,
    )  # fmt: skip
    assert (run["trigger"], run["status"]) == ("catch_up", "success")
    wait_for(
        lambda: len(set(ran(log)) - before - {str(manual["id"]), str(catch_up)}) >= 2, timeout=15
    )  # fmt: skip  (scheduled fires run again)
    actions = [e["action"] for e in service.get("/api/audit", params={"target": "scheduler"})
               .json()]  # fmt: skip
    assert actions == ["scheduler.resume", "scheduler.pause"]
    assert len(ran(log)) == len(set(ran(log))), "no run ran twice"


def test_pause_and_resume_from_the_command_line_need_an_operator(start_service):
    service = start_service(ENV)
    service.http.headers.update(AUTH)
    viewer = service.post("/api/keys", json={"name": "v", "role": "viewer"}).json()["secret"]
    operator = service.post("/api/keys", json={"name": "o", "role": "operator"}).json()["secret"]
    refused = cronwell(service, "pause", "--reason", "x", token=viewer)
    assert refused.returncode == 1 and "operator role" in refused.stderr
    done = cronwell(service, "pause", "--reason", "maintenance", token=operator)
    assert done.returncode == 0, done.stderr
    assert "maintenance" in done.stdout
    again = cronwell(service, "pause", "--reason", "other", token=operator)  # no change
    assert again.returncode == 0 and "maintenance" in again.stdout
    assert service.get("/api/scheduler").json()["paused_by"] == "key:o"
    resumed = cronwell(service, "resume", "--catch-up", token=operator)
    assert resumed.returncode == 0 and "0 catch-up run(s)" in resumed.stdout
    assert service.get("/api/scheduler").json()["paused"] is False
    assert [e["actor"] for e in service.get("/api/audit", params={"target": "scheduler"}).json()] \
        == ["key:o", "key:o"]  # fmt: skip
