"""retry_count / retry_delay_seconds: each attempt is a row; retries survive a restart."""

import time

from tests.support import seconds_between, wait_for


def test_failed_attempts_retry_with_doubling_delays(service, make_job, target):
    job = make_job(
        configuration={"url": target.url("/status/503")}, retry_count=2, retry_delay_seconds=1
    )
    first = service.post(f"/api/jobs/{job['id']}/run").json()
    rows = sorted(service.wait_executions(job["id"], 3, timeout=10), key=lambda r: r["id"])
    assert [r["attempt"] for r in rows] == [1, 2, 3]
    assert [r["trigger"] for r in rows] == ["manual", "retry", "retry"]
    assert [r["retry_of"] for r in rows] == [None, first["id"], first["id"]]
    assert all(r["status"] == "failed" and r["result"] == {"status_code": 503} for r in rows)
    # First delay 1 s, then 2 s (measured between a failure and the next start).
    assert 0.9 <= seconds_between(rows[0]["finished_at"], rows[1]["started_at"]) < 2.0
    assert 1.9 <= seconds_between(rows[1]["finished_at"], rows[2]["started_at"]) < 3.0
    body = service.get(f"/api/jobs/{job['id']}").json()
    assert body["run_count"] == 3 and body["fail_count"] == 3
    # No fourth attempt.
    assert len(service.executions(job["id"])) == 3


def test_a_timeout_is_retried_and_a_success_stops_the_retries(service, make_job, tmp_path):
    flag = tmp_path / "second-time"
    job = make_job(
        type="shell",
        configuration={
            "command": f"if [ -e {flag} ]; then echo ok; else touch {flag}; sleep 5; fi"
        },
        max_duration_seconds=1,
        retry_count=3,
        retry_delay_seconds=1,
    )
    service.post(f"/api/jobs/{job['id']}/run")
    rows = sorted(service.wait_executions(job["id"], 2, timeout=10), key=lambda r: r["id"])
    assert [r["status"] for r in rows] == ["timeout", "success"]
    time.sleep(1.5)  # a third attempt would be due by now
    assert len(service.executions(job["id"])) == 2


def test_a_pending_retry_survives_a_kill_and_restart(start_service, target):
    service = start_service()
    created = service.post(
        "/api/jobs",
        json={
            "id": "retry-restart",
            "name": "r",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": target.url("/status/500?restart")},
            "retry_count": 1,
            "retry_delay_seconds": 4,
        },
    )
    assert created.status_code == 201
    service.post("/api/jobs/retry-restart/run")
    pending = wait_for(
        lambda: [
            e
            for e in service.executions("retry-restart", status="queued")
            if e["trigger"] == "retry"
        ]
    )
    service.kill()
    again = start_service(workdir=service.workdir)
    rows = again.wait_executions("retry-restart", 2, timeout=10)
    retry = next(r for r in rows if r["id"] == pending[0]["id"])
    assert retry["status"] == "failed" and retry["attempt"] == 2
    assert retry["started_at"] >= retry["scheduled_at"]
