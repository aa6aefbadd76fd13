"""Fires written ahead of their time (CRONWELL_PREFIRE_SECONDS): on time, never early, and
a change to the job before the fire applies to it."""

import datetime as dt
import itertools
import time

from tests.support import wait_for

SERVICE_ENV = {"CRONWELL_PREFIRE_SECONDS": "2"}


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def _planned_row(service, job_id: str) -> dict:
    """Wait for the queued row of the job's next fire, written before its time."""
    rows = wait_for(lambda: service.executions(job_id, status="queued"), timeout=5)
    assert len(rows) == 1, rows
    return rows[0]


def test_a_fire_is_queued_ahead_and_runs_at_its_time_not_before(service, make_job, target):
    run_at = _at(3.5)
    job = make_job(schedule=run_at.isoformat())
    row = _planned_row(service, job["id"])
    assert dt.datetime.fromisoformat(row["scheduled_at"]) == run_at
    assert dt.datetime.now(dt.UTC) < run_at, "the row was written before the fire's time"
    assert row["trigger"] == "schedule" and row["started_at"] is None
    # The job still shows the fire as its next run (the store has moved past it).
    shown = service.get(f"/api/jobs/{job['id']}").json()["next_run_at"]
    assert dt.datetime.fromisoformat(shown) == run_at
    marker = job["configuration"]["url"].split("?")[1]
    hits = wait_for(lambda: target.hits_for(marker), timeout=6)
    assert len(hits) == 1
    assert hits[0]["at"] >= run_at.timestamp(), "never before its time"
    assert hits[0]["at"] - run_at.timestamp() < 0.5
    finished = service.wait_executions(job["id"], 1)
    assert [(e["id"], e["status"]) for e in finished] == [(row["id"], "success")]


def test_disabling_a_job_withdraws_its_planned_fire(service, make_job, target):
    run_at = _at(4)
    job = make_job(schedule=run_at.isoformat())
    _planned_row(service, job["id"])
    assert service.post(f"/api/jobs/{job['id']}/disable").status_code == 200
    assert service.executions(job["id"]) == [], "the planned fire is gone with the change"
    time.sleep(max(0.0, run_at.timestamp() - time.time()) + 1)
    marker = job["configuration"]["url"].split("?")[1]
    assert target.hits_for(marker) == []
    assert service.executions(job["id"]) == []


def test_a_change_before_the_fire_applies_to_it(service, make_job, target):
    run_at = _at(4)
    job = make_job(schedule=run_at.isoformat())
    planned = _planned_row(service, job["id"])
    response = service.patch(
        f"/api/jobs/{job['id']}", json={"configuration": {"url": target.url("/ok?prefire-new")}}
    )
    assert response.status_code == 200, response.text
    # The same planned row runs, with the job as it is at its start: the new URL.
    assert _planned_row(service, job["id"])["id"] == planned["id"]
    wait_for(lambda: target.hits_for("prefire-new"), timeout=6)
    old_marker = job["configuration"]["url"].split("?")[1]
    assert target.hits_for(old_marker) == []
    finished = service.wait_executions(job["id"], 1)
    assert [(e["id"], e["status"]) for e in finished] == [(planned["id"], "success")]


def test_a_new_schedule_withdraws_the_planned_fire(service, make_job, target):
    run_at = _at(4)
    job = make_job(schedule=run_at.isoformat())
    planned = _planned_row(service, job["id"])
    later = run_at + dt.timedelta(seconds=1)
    response = service.patch(f"/api/jobs/{job['id']}", json={"schedule": later.isoformat()})
    assert response.status_code == 200, response.text
    replanned = _planned_row(service, job["id"])
    assert replanned["id"] != planned["id"]
    assert dt.datetime.fromisoformat(replanned["scheduled_at"]) == later
    marker = job["configuration"]["url"].split("?")[1]
    hits = wait_for(lambda: target.hits_for(marker), timeout=8)
    assert hits[0]["at"] >= later.timestamp()
    finished = service.wait_executions(job["id"], 1)
    assert [(e["id"], e["status"]) for e in finished] == [(replanned["id"], "success")]


def test_fires_closer_than_the_prefire_window_each_run_once(service, make_job, target):
    # A 1 s interval with fires written 2 s ahead: each pass hands out two future fires.
    job = make_job(schedule="1s", overlap_policy="allow")
    time.sleep(4.5)
    service.post(f"/api/jobs/{job['id']}/disable")
    rows = service.wait_executions(job["id"], 4)
    time.sleep(0.5)
    rows = service.executions(job["id"])
    assert {r["status"] for r in rows} == {"success"}, rows
    fires = sorted(dt.datetime.fromisoformat(r["scheduled_at"]) for r in rows)
    assert len(set(fires)) == len(fires)
    assert all(b - a == dt.timedelta(seconds=1) for a, b in itertools.pairwise(fires))
    marker = job["configuration"]["url"].split("?")[1]
    assert len(target.hits_for(marker)) == len(rows)
