"""overlap_policy and MAX_CONCURRENT: skipped rows, side-by-side runs, queueing in fire order."""

from tests.support import wait_for

SERVICE_ENV = {"CRONWELL_MAX_CONCURRENT": "2"}


def test_a_fire_during_a_run_is_recorded_skipped(service, make_job):
    job = make_job(type="shell", configuration={"command": "sleep 2.5"}, schedule="1s")
    rows = wait_for(
        lambda: (
            (r := service.executions(job["id"])) and any(e["status"] == "skipped" for e in r) and r
        ),
        timeout=8,
    )
    skipped = next(e for e in rows if e["status"] == "skipped")
    assert skipped["trigger"] == "schedule"
    assert "still in progress" in skipped["error"]
    service.post(f"/api/jobs/{job['id']}/disable")
    # Never two at once.
    running = [e for e in service.executions(job["id"]) if e["status"] == "running"]
    assert len(running) <= 1


def test_when_all_slots_are_busy_runs_wait_queued_and_start_in_order(service, make_job):
    # Start from idle slots (an earlier test's run may still be finishing).
    wait_for(lambda: service.get("/api/scheduler").json()["active_executions"] == 0, timeout=5)
    blockers = [make_job(type="shell", configuration={"command": "sleep 1.5"}) for _ in range(2)]
    waiting = [make_job(type="shell", configuration={"command": "true"}) for _ in range(3)]
    for job in blockers:
        assert service.post(f"/api/jobs/{job['id']}/run").status_code == 202
    wait_for(lambda: service.get("/api/scheduler").json()["active_executions"] == 2)
    queued_ids = [service.post(f"/api/jobs/{job['id']}/run").json()["id"] for job in waiting]
    for job in waiting:
        assert service.executions(job["id"])[0]["status"] == "queued"
    finished = [service.wait_executions(job["id"], 1)[0] for job in waiting]
    assert [row["id"] for row in finished] == queued_ids
    starts = [row["started_at"] for row in finished]
    assert starts == sorted(starts), "queued runs start in the order they were queued"
    blocker_end = min(service.executions(b["id"])[0]["finished_at"] for b in blockers)
    assert starts[0] >= blocker_end
