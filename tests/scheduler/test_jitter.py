"""jitter_seconds: each scheduled fire starts up to that long after its time; the time
before jitter stays the fire's scheduled_at and the job's next_run_at."""

from __future__ import annotations

from itertools import pairwise

from tests.support import seconds_between


def test_jittered_fires_keep_their_times_and_start_within_the_jitter(service, make_job):
    job = make_job(schedule="1s", jitter_seconds=1)
    assert job["jitter_seconds"] == 1
    runs = service.wait_executions(job["id"], 6, status="success", timeout=20)
    runs.sort(key=lambda r: r["scheduled_at"])
    gaps = [seconds_between(a["scheduled_at"], b["scheduled_at"]) for a, b in pairwise(runs)]
    assert all(abs(gap - round(gap)) < 0.01 for gap in gaps), gaps  # the schedule's grid
    lateness = [seconds_between(r["scheduled_at"], r["started_at"]) for r in runs]
    assert all(0 <= late < 1.3 for late in lateness), lateness
    assert max(lateness) > 0.1, lateness  # spread: six draws all under 0.1 s: 1e-6
    next_run = service.get(f"/api/jobs/{job['id']}").json()["next_run_at"]
    offset = seconds_between(runs[0]["scheduled_at"], next_run)
    assert abs(offset - round(offset)) < 0.01  # before jitter, on the grid


def test_jitter_out_of_range_is_refused(service, make_job):
    job = make_job()
    for value in (-1, 3601, "5", 1.5, True):
        response = service.put(f"/api/jobs/{job['id']}", json={"jitter_seconds": value})
        assert response.status_code == 422, value
        assert "jitter_seconds" in response.json()["errors"]
