"""Any number of workers, one scheduler: each fire runs once; failover within 5 s (SQLite)."""

import datetime as dt
import os
import signal
import time

from tests.support import create_http_job, wait_for


def _settled(rows: list[dict]) -> list[dict] | None:
    """The rows whose time has come, once all of those are final (None before)."""
    now = dt.datetime.now(dt.UTC)
    due = [r for r in rows if dt.datetime.fromisoformat(r["scheduled_at"]) <= now]
    # A queued row dated ahead is the next fire, written in advance (CRONWELL_PREFIRE_SECONDS).
    if due and all(e["status"] not in ("queued", "running") for e in due):
        return due
    return None


def assert_once_per_fire(service, target, job_id):
    # Outcomes are written just after the call returns: let the last one land.
    rows = wait_for(lambda: _settled(service.executions(job_id)), timeout=5)
    success = [r for r in rows if r["status"] == "success"]
    fires = [
        r["scheduled_at"] for r in rows if r["trigger"] == "schedule" and r["status"] != "missed"
    ]
    assert len(fires) == len(set(fires)), "a fire was recorded twice"
    hits = target.hits_for(f"{job_id}-")
    assert len(hits) == len(success), (len(hits), len(success))
    return success


def test_three_workers_run_each_fire_once(start_service, target):
    service = start_service({"WEB_CONCURRENCY": "3"})
    statuses = [service.get("/api/scheduler").json() for _ in range(30)]
    assert len({s["leader"]["pid"] for s in statuses}) == 1, "one leader for all workers"
    create_http_job(service, "workers-1s", target)
    # Jobs created through whichever worker answers (the kernel spreads connections).
    others = []
    for i in range(9):
        fresh = service.connection()
        others.append(create_http_job(fresh, f"workers-spread-{i}", target, schedule="2s")["id"])
    time.sleep(10)
    service.post("/api/jobs/workers-1s/disable")
    time.sleep(0.5)
    success = assert_once_per_fire(service, target, "workers-1s")
    assert 9 <= len(success) <= 11, len(success)
    for job_id in others:
        assert assert_once_per_fire(service, target, job_id), job_id


def test_changes_made_in_any_worker_reach_the_scheduler_within_a_second(start_service, target):
    service = start_service({"WEB_CONCURRENCY": "3"})
    for i in range(6):
        fresh = service.connection()
        started = time.monotonic()
        job = create_http_job(fresh, f"reach-{i}", target, schedule="1s")
        assert job["next_run_at"], "the response shows the next run even before the leader syncs"
        wait_for(lambda: target.hits_for(f"reach-{i}-"), timeout=3)  # noqa: B023
        assert time.monotonic() - started < 2.5
        fresh.post(f"/api/jobs/reach-{i}/disable")
        time.sleep(1.2)
        count = len(target.hits_for(f"reach-{i}-"))
        time.sleep(1.5)
        assert len(target.hits_for(f"reach-{i}-")) == count, "disable reached the leader"


def test_killing_the_leader_worker_hands_over_within_5_seconds(start_service, target):
    service = start_service({"WEB_CONCURRENCY": "3"})
    create_http_job(service, "failover-1s", target, misfire_grace_seconds=1)
    service.wait_executions("failover-1s", 2)
    old = service.get("/api/scheduler").json()["leader"]
    os.kill(old["pid"], signal.SIGKILL)
    killed_at = time.monotonic()

    def new_leader():
        try:
            leader = service.get("/api/scheduler", timeout=2).json()["leader"]
        except Exception:
            return None
        return leader if leader and leader["pid"] != old["pid"] else None

    leader = wait_for(new_leader, timeout=5, interval=0.1)
    assert time.monotonic() - killed_at < 5
    assert dt.datetime.fromisoformat(leader["since"]) > dt.datetime.fromisoformat(old["since"])
    before = len(service.executions("failover-1s", status="success"))
    wait_for(
        lambda: len(service.executions("failover-1s", status="success")) >= before + 2, timeout=5
    )
    assert_once_per_fire(service, target, "failover-1s")


def test_separate_instances_on_one_database_share_one_scheduler(start_service, target):
    first = start_service()
    second = start_service(workdir=first.workdir)
    third = start_service(workdir=first.workdir)
    leaders = {s.get("/api/scheduler").json()["leader"]["pid"] for s in (first, second, third)}
    assert len(leaders) == 1
    for index, instance in enumerate((first, second, third)):
        create_http_job(instance, f"instance-{index}", target, schedule="1s")
    for index in range(3):
        wait_for(lambda: target.hits_for(f"instance-{index}-"), timeout=4)  # noqa: B023
    for index, instance in enumerate((first, second, third)):
        instance.post(f"/api/jobs/instance-{index}/disable")
    time.sleep(0.5)
    for index in range(3):
        assert_once_per_fire(first, target, f"instance-{index}")


def test_with_preload_the_master_never_runs_the_scheduler(start_service, target):
    # gunicorn reads GUNICORN_CMD_ARGS: --preload imports wsgi.py in the master, then forks.
    service = start_service({"WEB_CONCURRENCY": "2", "GUNICORN_CMD_ARGS": "--preload"})
    leader = service.get("/api/scheduler").json()["leader"]
    assert leader["pid"] != service.proc.pid, "the scheduler runs in a worker, not the master"
    create_http_job(service, "preload-1s", target)
    time.sleep(3)
    service.post("/api/jobs/preload-1s/disable")
    assert len(assert_once_per_fire(service, target, "preload-1s")) >= 2
