"""expected_duration_seconds: a run still going past it is told once as the event slow
(while it goes on), marked slow: true, counted, and shown; a quicker run is not."""

import json
import uuid

from tests.support import run_and_wait, scrape, wait_for


def test_a_slow_run_is_told_once_while_it_still_runs(service, target):
    marker = uuid.uuid4().hex
    made = service.post("/api/jobs", json={
        "id": "slowpoke", "name": "slowpoke", "type": "shell", "schedule": "1h",
        "expected_duration_seconds": 1, "max_duration_seconds": 60,
        "configuration": {"command": "sleep 6"},
        "notify": {"on": ["failure"], "urls": [target.url(f"/hook/{marker}")]}})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["expected_duration_seconds"] == 1
    run = service.post("/api/jobs/slowpoke/run").json()
    [hit] = wait_for(lambda: target.hits_for(marker), timeout=20)
    told = json.loads(hit["body"])
    assert told["event"] == "slow" and told["execution"]["id"] == run["id"]
    during = service.get(f"/api/jobs/slowpoke/executions/{run['id']}").json()
    assert (during["status"], during["slow"]) == ("running", True), "told while it runs"
    done = wait_for(
        lambda: (e := service.get(f"/api/jobs/slowpoke/executions/{run['id']}").json())
        and e["status"] == "success" and e, timeout=30,
    )  # fmt: skip
    assert done["slow"] is True and done["duration_ms"] >= 5000  # it went on
    assert len(target.hits_for(marker)) == 1, "once per run"
    slow = {s.labels["job_id"]: s.value for s in scrape(service, "cronwell_executions_slow_total")}
    assert slow == {"slowpoke": 1.0}
    totals = {s.labels["status"] for s in scrape(service, "cronwell_executions_total")
              if s.labels["job_id"] == "slowpoke"}  # fmt: skip
    assert totals == {"success"}
    page = service.get("/ui/jobs/slowpoke").text
    assert 'title="Ran past the job\'s expected duration">slow</span>' in page


def test_a_run_within_its_expected_duration_is_not_slow(service):
    made = service.post("/api/jobs", json={
        "id": "quick", "name": "quick", "type": "shell", "schedule": "1h",
        "expected_duration_seconds": 30, "configuration": {"command": "true"}})  # fmt: skip
    assert made.status_code == 201, made.text
    assert run_and_wait(service, "quick")["slow"] is False
    cleared = service.patch("/api/jobs/quick", json={"expected_duration_seconds": None})
    assert cleared.json()["expected_duration_seconds"] is None
    refused = service.patch("/api/jobs/quick", json={"expected_duration_seconds": 0})
    assert refused.status_code == 422 and "expected_duration_seconds" in refused.json()["errors"]
