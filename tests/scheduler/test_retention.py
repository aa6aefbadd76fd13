"""CRONWELL_HISTORY_LIMIT: the newest N executions per job are kept."""

from tests.support import wait_for

SERVICE_ENV = {"CRONWELL_HISTORY_LIMIT": "5"}


def test_old_executions_are_pruned_to_the_limit(service, make_job):
    job = make_job(overlap_policy="allow")
    other = make_job(overlap_policy="allow")
    run_ids = [service.post(f"/api/jobs/{job['id']}/run").json()["id"] for _ in range(12)]
    service.post(f"/api/jobs/{other['id']}/run")
    service.wait_executions(job["id"], 5)
    wait_for(lambda: len(service.executions(job["id"])) == 5, timeout=10)
    kept = [e["id"] for e in service.executions(job["id"])]
    assert kept == sorted(run_ids, reverse=True)[:5], "the newest are kept"
    assert len(service.executions(other["id"])) == 1, "other jobs are untouched"
    assert service.get(f"/api/jobs/{job['id']}").json()["run_count"] == 12, (
        "counts keep the whole life"
    )
