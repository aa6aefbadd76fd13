"""Every run is told the time it stands for: shell runs by CRONWELL_SCHEDULED_AT and
CRONWELL_TRIGGER, http runs by X-Cronwell-Scheduled-At and X-Cronwell-Execution-Id (the
agent types' body is checked with the cron API, tests/api/test_engine_cron_api.py)."""

import datetime as dt

from tests.support import run_and_wait, wait_for


def test_a_scheduled_shell_run_knows_its_fire_time_and_trigger(service, tmp_path):
    out = tmp_path / "env.txt"
    made = service.post("/api/jobs", json={
        "id": "told-time", "name": "told", "type": "shell", "schedule": "1s",
        "configuration": {"command": f"echo $CRONWELL_EXECUTION_ID $CRONWELL_SCHEDULED_AT "
                                     f"$CRONWELL_TRIGGER >> {out}"}})  # fmt: skip
    assert made.status_code == 201, made.text
    wait_for(lambda: out.exists() and out.read_text().strip(), timeout=15)
    service.post("/api/jobs/told-time/disable")
    execution_id, scheduled_at, trigger = out.read_text().splitlines()[0].split()
    run = service.get(f"/api/jobs/told-time/executions/{execution_id}").json()
    assert trigger == "schedule"
    told = dt.datetime.fromisoformat(scheduled_at)
    assert told.utcoffset() is not None
    assert told == dt.datetime.fromisoformat(run["scheduled_at"])
    assert run["trigger"] == "schedule" and run["started_at"] >= run["scheduled_at"]


def test_an_http_run_gets_its_time_and_execution_id_as_headers(service, target):
    made = service.post("/api/jobs", json={
        "id": "told-http", "name": "told http", "type": "http", "schedule": "1h",
        "configuration": {"url": target.url("/ok?told-http")}})  # fmt: skip
    assert made.status_code == 201, made.text
    run = run_and_wait(service, "told-http")
    (hit,) = target.hits_for("told-http")
    headers = {k.lower(): v for k, v in hit["headers"].items()}
    assert headers["x-cronwell-execution-id"] == str(run["id"])
    told = dt.datetime.fromisoformat(headers["x-cronwell-scheduled-at"])
    assert told == dt.datetime.fromisoformat(run["scheduled_at"]) and told.utcoffset() is not None
