"""Faults that break schedulers, applied for real: a database restart with runs in flight,
a leader frozen past its lease, a worker killed in mid-run, a SQLite file locked for 25 s.

Each ends with no execution run twice, no outcome lost and no row left ``queued`` or
``running`` once things settle. Shell jobs append their execution id to a file, so a run
done twice shows as an id written twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from tests.support import wait_for
from tests.support.postgres import Postgres, find_postgres
from tests.support.runs import (
    assert_each_ran_once_and_is_recorded,
    hanging_first_attempt,
    logging_job,
    ran_ids,
    settled_rows,
    wait_for_more_runs,
)


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, to stop and start."""
    bindir = find_postgres()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; CI must run this test")
        pytest.skip("PostgreSQL is not installed (make test installs it when run as root)")
    server = Postgres(bindir)
    yield server
    server.stop()


def test_a_database_restart_with_runs_in_flight_runs_nothing_twice_and_loses_nothing(
    own_postgres, start_service, tmp_path
):
    url = own_postgres.new_database()
    env = {"CRONWELL_DATABASE_URL": url, "WEB_CONCURRENCY": "2", "CRONWELL_LEASE_SECONDS": "10"}
    service = start_service(env)
    ids = tmp_path / "ids"
    jobs = [f"pg-restart-{i}" for i in range(8)]
    for job_id in jobs[:6]:
        logging_job(service, job_id, ids)
    for job_id in jobs[6:]:  # these are running when the database goes
        logging_job(service, job_id, ids, schedule="2s", then="sleep 1.5")
    wait_for_more_runs(ids, 20, timeout=15)
    own_postgres.stop_server()
    started = time.monotonic()
    _answers_503_while_the_database_is_away(service)
    time.sleep(max(0.0, 6 - (time.monotonic() - started)))
    own_postgres.start()
    wait_for_more_runs(ids, 20, timeout=30)
    rows = settled_rows(service, jobs)
    assert_each_ran_once_and_is_recorded(rows, ids)
    assert len(ran_ids(ids)) >= 40
    # Both workers went on running after the restart.
    workers = {row["worker"] for row in rows if row["status"] == "success"}
    assert len(workers) == 2, workers


def _answers_503_while_the_database_is_away(service) -> None:
    """Reads, a run-now and a web UI page each answer 503 with Retry-After (JSON in the
    API, the error page in the UI): to be tried again, not an internal error."""
    for method, path in (
        ("GET", "/api/jobs"),
        ("POST", "/api/jobs/pg-restart-0/run"),
        ("GET", "/api/jobs/pg-restart-0/executions"),
    ):
        answer = service.connection().request(method, path, timeout=10)  # either worker
        assert answer.status_code == 503, (method, path, answer.status_code, answer.text)
        assert answer.headers["Retry-After"] == "5"
        body = answer.json()
        assert (body["code"], body["status"]) == (503, "Service Unavailable"), body
        assert "database is unavailable" in body["message"], body
    page = service.connection().get("/ui/jobs", timeout=10)
    assert page.status_code == 503, page.text
    assert "database is unavailable" in page.text and page.headers["Retry-After"] == "5"


def _process_of(services, pid: int):
    """The service whose gunicorn master is the parent of ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    parent = int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
    return next(service for service in services if service.proc.pid == parent)


def _leader(service, timeout: float = 2) -> dict | None:
    try:
        return service.get("/api/scheduler", timeout=timeout).json()["leader"]
    except requests.RequestException:
        return None


def test_a_leader_frozen_past_its_lease_is_replaced_and_its_late_writes_change_nothing(
    postgres, start_service, tmp_path_factory, tmp_path
):
    env = {"CRONWELL_DATABASE_URL": postgres.new_database(), "CRONWELL_LEASE_SECONDS": "4"}
    first = start_service(env, workdir=tmp_path_factory.mktemp("freeze-a"))
    second = start_service(env, workdir=tmp_path_factory.mktemp("freeze-b"))
    ids = tmp_path / "ids"
    jobs = [f"freeze-{i}" for i in range(4)]
    for job_id in jobs[:3]:
        logging_job(first, job_id, ids)
    logging_job(first, jobs[3], ids, schedule="3s", then="sleep 2", retry_count=1)
    wait_for_more_runs(ids, 10, timeout=15)
    old = _leader(first)
    frozen = _process_of((first, second), old["pid"])
    live = second if frozen is first else first
    os.kill(old["pid"], signal.SIGSTOP)
    try:
        new = wait_for(
            lambda: (leader := _leader(live)) and leader["pid"] != old["pid"] and leader,
            timeout=15,
            interval=0.2,
        )
        assert new["term"] > old["term"]
        wait_for_more_runs(ids, 6, timeout=10)  # the live instance runs the jobs
    finally:
        os.kill(old["pid"], signal.SIGCONT)
    # Awake, the old leader finds its number stale and steps down; the new one stays.
    wait_for(lambda: "is stale" in frozen.log(), timeout=10)
    time.sleep(2)
    assert _leader(live)["pid"] == new["pid"]
    assert _leader(frozen, timeout=10)["pid"] == new["pid"]
    rows = settled_rows(live, jobs)
    # A run the frozen worker held is recorded interrupted once its lease ended.
    assert_each_ran_once_and_is_recorded(rows, ids, allow=("success", "interrupted"))


def test_a_worker_killed_in_mid_run_has_its_run_interrupted_and_retried_elsewhere(
    start_service, tmp_path
):
    service = start_service({"WEB_CONCURRENCY": "2", "CRONWELL_LEASE_SECONDS": "4"})
    ids, marker = tmp_path / "ids", tmp_path / "first-attempt"
    hanging_first_attempt(service, "killed-mid-run", ids, marker)
    run = service.post("/api/jobs/killed-mid-run/run").json()
    path = f"/api/jobs/killed-mid-run/executions/{run['id']}"
    running = wait_for(lambda: (row := service.get(path).json())["status"] == "running" and row)
    wait_for(marker.exists)
    os.kill(int(running["worker"].split(":")[1]), signal.SIGKILL)
    service = service.connection()  # not a kept-alive connection to the killed worker

    def retried():
        rows = service.executions("killed-mid-run", status="success")
        return rows[0] if rows else None

    retry = wait_for(retried, timeout=20, interval=0.2)
    first = service.get(path).json()
    assert first["status"] == "interrupted" and "lease" in first["error"], first
    assert (retry["trigger"], retry["attempt"], retry["retry_of"]) == ("retry", 2, run["id"])
    assert retry["worker"] != first["worker"]
    assert sorted(ran_ids(ids)) == sorted([str(run["id"]), str(retry["id"])])


def test_a_sqlite_file_locked_for_25_seconds_runs_nothing_twice_and_loses_nothing(
    start_service, tmp_path
):
    service = start_service({"WEB_CONCURRENCY": "2"})
    ids = tmp_path / "ids"
    jobs = [f"locked-{i}" for i in range(4)]
    for job_id in jobs:
        logging_job(service, job_id, ids)
    wait_for_more_runs(ids, 8, timeout=15)
    holder = sqlite3.connect(service.db_path, isolation_level=None, timeout=30)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        time.sleep(25)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_for_more_runs(ids, 8, timeout=30)
    rows = settled_rows(service, jobs)
    assert_each_ran_once_and_is_recorded(rows, ids)
