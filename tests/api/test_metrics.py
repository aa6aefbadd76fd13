"""GET /metrics: the contract's metrics, types and labels, read with prometheus-client's
own parser from the real service; the same figures from every gunicorn worker; the
token when one is set."""

import time

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.support import run_and_wait, wait_for

# Two workers: one leads (runs the jobs, observes the histograms), the other does not.
SERVICE_ENV = {"WEB_CONCURRENCY": "2"}
CONTRACT = {
    "cronwell_executions": ("counter", {"job_id", "status"}),
    "cronwell_executions_running": ("gauge", set()),
    "cronwell_executions_queued": ("gauge", set()),
    "cronwell_schedule_lateness_seconds": ("histogram", set()),
    "cronwell_execution_duration_seconds": ("histogram", {"type"}),
    "cronwell_jobs": ("gauge", {"state"}),
    "cronwell_job_info": ("gauge", {"job_id", "name", "type", "schedule", "timezone"}),
    "cronwell_job_next_run_timestamp_seconds": ("gauge", {"job_id"}),
    "cronwell_job_last_success_timestamp_seconds": ("gauge", {"job_id"}),
    "cronwell_job_last_failure_timestamp_seconds": ("gauge", {"job_id"}),
    "cronwell_scheduler_leader": ("gauge", set()),
    "cronwell_notifications": ("counter", {"status"}),
}


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(family, **labels) -> float | None:
    found = [s.value for s in family.samples if labels.items() <= s.labels.items()]
    return found[0] if found else None


def test_the_contracts_metrics_with_their_types_labels_and_figures(service, make_job, target):
    ticking = make_job(schedule="1s")  # scheduled runs: lateness
    failing = make_job(configuration={"url": target.url("/status/500")})
    off = make_job(is_enabled=False)
    gone = make_job()
    assert service.delete(f"/api/jobs/{gone['id']}").status_code == 204
    assert run_and_wait(service, failing["id"])["status"] == "failed"
    wait_for(lambda: service.executions(ticking["id"], status="success"), timeout=10)
    response = service.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = families(response.text)
    for name, (kind, labels) in CONTRACT.items():
        assert found[name].type == kind, name
        for sample in found[name].samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    executions = found["cronwell_executions"]
    assert value(executions, job_id=failing["id"], status="failed") == 1
    assert value(executions, job_id=ticking["id"], status="success") >= 1
    info = found["cronwell_job_info"]
    assert value(info, job_id=ticking["id"], schedule="1s", type="http", timezone="UTC") == 1
    assert value(info, job_id=gone["id"]) is None  # deleted jobs are not listed
    upcoming = found["cronwell_job_next_run_timestamp_seconds"]
    assert time.time() - 1 < value(upcoming, job_id=ticking["id"]) < time.time() + 3
    assert value(upcoming, job_id=off["id"]) is None  # no next run: absent
    success = found["cronwell_job_last_success_timestamp_seconds"]
    assert time.time() - 10 < value(success, job_id=ticking["id"]) <= time.time()
    assert value(success, job_id=failing["id"]) is None
    assert value(found["cronwell_job_last_failure_timestamp_seconds"], job_id=failing["id"])
    jobs = found["cronwell_jobs"]
    assert value(jobs, state="deleted") >= 1 and value(jobs, state="disabled") >= 1
    assert value(found["cronwell_scheduler_leader"]) == 1
    lateness = found["cronwell_schedule_lateness_seconds"]
    assert value(lateness, le="+Inf") >= 1
    assert value(lateness, le="1.0") == value(lateness, le="+Inf")  # none a second late
    duration = found["cronwell_execution_duration_seconds"]
    assert value(duration, type="http", le="+Inf") >= 2
    assert value(found["cronwell_notifications"], status="sent") == 0


def _connections_by_role(service) -> dict:
    """A kept-alive connection to the leading worker and one to the other (the answer to
    /api/scheduler says whether the worker that answered leads)."""
    roles = {}
    for _ in range(60):
        connection = service.connection()
        leads = connection.get("/api/scheduler").json()["this_process_leads"]
        roles.setdefault(leads, connection)
        if len(roles) == 2:
            return roles
    raise AssertionError("every connection went to one worker")


SHARED = (
    "cronwell_execution_duration_seconds",
    "cronwell_schedule_lateness_seconds",
    "cronwell_scheduler_leader",
    "cronwell_notifications",
    "cronwell_executions",
    "cronwell_job_info",
)


def _samples(scrape: dict, name: str) -> set:
    return {(s.name, frozenset(s.labels.items()), s.value) for s in scrape[name].samples}


def test_every_worker_answers_with_the_same_figures(service, make_job):
    """Within a refresh (METRICS_REFRESH_SECONDS, 5 s) of a run, both workers' snapshots
    show it, and say the same."""
    job = make_job()
    run_and_wait(service, job["id"])
    roles = _connections_by_role(service)

    def agreeing() -> dict | None:
        scrapes = {leads: families(c.get("/metrics").text) for leads, c in roles.items()}
        if value(scrapes[False]["cronwell_executions"], job_id=job["id"]) is None:
            return None
        same = all(_samples(scrapes[True], n) == _samples(scrapes[False], n) for n in SHARED)
        return scrapes if same else None

    scrapes = wait_for(agreeing, timeout=15, interval=0.5)
    assert value(scrapes[False]["cronwell_scheduler_leader"]) == 1  # the instance leads
    assert value(scrapes[False]["cronwell_execution_duration_seconds"], le="+Inf") >= 1


def _executions_of(service, job_id: str) -> float | None:
    scrape = families(service.get("/metrics").text)
    return value(scrape["cronwell_executions"], job_id=job_id, status="success")


@pytest.mark.parametrize("refresh", [1, 30])
def test_a_scrape_answers_from_a_snapshot_refreshed_in_the_background(
    start_service, target, refresh
):
    """A scrape answers with the last rendering: a run shows once the background refresh
    (every METRICS_REFRESH_SECONDS, started by the first scrape) has rendered it."""
    service = start_service({"CRONWELL_METRICS_REFRESH_SECONDS": str(refresh)})
    job = service.post(
        "/api/jobs",
        json={"name": "snapshot", "type": "http", "schedule": "0 3 * * *",
              "configuration": {"url": target.url("/ok")}},
    ).json()  # fmt: skip
    assert _executions_of(service, job["id"]) is None  # the first scrape renders at once
    run_and_wait(service, job["id"])
    began = time.monotonic()
    if refresh == 30:
        time.sleep(1.5)
        assert _executions_of(service, job["id"]) is None  # not yet rendered again
    else:
        assert wait_for(lambda: _executions_of(service, job["id"]), timeout=10) == 1
        assert time.monotonic() - began < 4


def test_openmetrics_when_the_scraper_asks_for_it(service):
    response = service.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    names = {family.name for family in openmetrics_families(response.text)}
    assert set(CONTRACT) <= names


def test_metrics_need_the_token_when_one_is_set(start_service):
    guarded = start_service({"CRONWELL_API_TOKEN": "s3cret"})
    refused = guarded.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["message"].startswith("Sign in")
    allowed = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200
    assert "cronwell_jobs" in families(allowed.text)
