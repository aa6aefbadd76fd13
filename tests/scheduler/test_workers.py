"""Every worker runs: GET /api/workers, the spread of runs, run_on labels, concurrency
groups and an instance that executes nothing."""

from __future__ import annotations

import datetime as dt
import json

from tests.support import scrape, wait_for
from tests.support.runs import logging_job


def _pid_of(worker_id: str) -> int:
    return int(worker_id.split(":")[1])


def test_runs_are_spread_over_every_worker_and_listed(start_service, tmp_path):
    labels = {"zone": "a"}
    service = start_service({"WEB_CONCURRENCY": "2", "CRONWELL_WORKER_LABELS": json.dumps(labels)})
    ids = tmp_path / "ids"
    jobs = [f"spread-{i}" for i in range(10)]
    for job_id in jobs:
        logging_job(service, job_id, ids)

    def two_workers_ran():
        rows = [row for job_id in jobs for row in service.executions(job_id, status="success")]
        return len({row["worker"] for row in rows}) == 2 and rows

    rows = wait_for(two_workers_ran, timeout=20, interval=0.5)
    workers = service.get("/api/workers").json()
    assert len(workers) == 2
    assert [w["leader"] for w in workers].count(True) == 1
    assert all(w["state"] == "alive" and w["capacity"] == 10 for w in workers)
    assert all(w["labels"] == labels for w in workers)
    assert {w["id"] for w in workers} == {row["worker"] for row in rows}
    leader = service.get("/api/scheduler").json()["leader"]
    assert workers[0]["pid"] == leader["pid"]
    alive = [s.value for s in scrape(service, "cronwell_workers") if s.labels["state"] == "alive"]
    assert alive == [2]
    running = scrape(service, "cronwell_worker_running")
    assert {s.labels["worker"] for s in running} == {w["id"] for w in workers}
    for job_id in jobs:
        service.post(f"/api/jobs/{job_id}/disable")


def test_run_on_keeps_a_job_on_workers_with_its_labels(start_service, tmp_path):
    env = {"CRONWELL_LEASE_SECONDS": "3"}
    db_host = start_service({**env, "CRONWELL_WORKER_LABELS": '{"role": "db"}'})
    plain = start_service(env, workdir=db_host.workdir)
    ids = tmp_path / "ids"
    logging_job(plain, "on-db", ids, run_on={"role": "db"})
    assert plain.get("/api/jobs/on-db").json()["run_on"] == {"role": "db"}
    rows = wait_for(lambda: len(r := plain.executions("on-db", status="success")) >= 4 and r)
    db_pids = {w["pid"] for w in plain.get("/api/workers").json() if w["labels"]}
    assert {_pid_of(row["worker"]) for row in rows} <= db_pids
    plain.post("/api/jobs/on-db/disable")
    # No worker has role=gpu: the run waits, then is missed after its grace time.
    logging_job(
        plain, "on-gpu", ids, schedule="0 3 * * *", run_on={"role": "gpu"}, misfire_grace_seconds=1
    )
    queued = plain.post("/api/jobs/on-gpu/run").json()
    path = f"/api/jobs/on-gpu/executions/{queued['id']}"
    missed = wait_for(lambda: (e := plain.get(path).json())["status"] != "queued" and e, 15)
    assert missed["status"] == "missed" and "role=gpu" in missed["error"], missed
    assert str(queued["id"]) not in ids.read_text().split()


def _most_at_once(rows: list[dict]) -> int:
    """The most runs going at one moment, from their own start and end times."""
    events = []
    for row in rows:
        events.append((dt.datetime.fromisoformat(row["started_at"]), 1))
        events.append((dt.datetime.fromisoformat(row["finished_at"]), -1))
    most = current = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # ends before starts
        current += step
        most = max(most, current)
    return most


def test_a_concurrency_group_never_runs_more_than_its_limit(start_service, tmp_path):
    service = start_service({"WEB_CONCURRENCY": "2", "CRONWELL_CONCURRENCY_GROUPS": '{"db": 2}'})
    ids = tmp_path / "ids"
    jobs = [f"grouped-{i}" for i in range(3)]
    for job_id in jobs:
        logging_job(
            service, job_id, ids, schedule="0 3 * * *", then="sleep 0.6",
            concurrency_group="db", overlap_policy="allow",
        )  # fmt: skip
    for _ in range(3):
        for job_id in jobs:
            assert service.post(f"/api/jobs/{job_id}/run").status_code == 202

    def all_done():
        rows = [row for job_id in jobs for row in service.executions(job_id)]
        return len(rows) == 9 and all(r["status"] == "success" for r in rows) and rows

    rows = wait_for(all_done, timeout=30, interval=0.3)
    assert _most_at_once(rows) == 2
    assert len(set(ids.read_text().split())) == 9


def test_an_unknown_concurrency_group_is_refused_by_name(service):
    response = service.post(
        "/api/jobs",
        json={"name": "g", "type": "http", "schedule": "1h", "concurrency_group": "nope",
              "configuration": {"url": "http://127.0.0.1:9/"}},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Unknown group 'nope'" in response.json()["errors"]["concurrency_group"][0]


def test_an_instance_that_does_not_execute_serves_and_runs_nothing(start_service, tmp_path):
    runner = start_service()
    api_only = start_service({"CRONWELL_EXECUTE": "false"}, workdir=runner.workdir)
    ids = tmp_path / "ids"
    logging_job(api_only, "elsewhere", ids, schedule="0 3 * * *")
    workers = wait_for(lambda: len(w := api_only.get("/api/workers").json()) == 2 and w)
    by_capacity = {w["capacity"]: w for w in workers}
    assert sorted(by_capacity) == [0, 10]
    assert by_capacity[0]["running"] == 0
    for _ in range(3):
        run = api_only.post("/api/jobs/elsewhere/run").json()
        path = f"/api/jobs/elsewhere/executions/{run['id']}"
        done = wait_for(lambda p=path: (e := api_only.get(p).json())["status"] == "success" and e)
        assert done["worker"] == by_capacity[10]["id"]


def test_a_run_now_wakes_the_other_instances_workers_on_postgresql(
    start_service, postgres, tmp_path_factory, tmp_path
):
    """With polls 30 s apart, only the NOTIFY can bring a run-now taken by an instance
    that executes nothing to the other instance's worker within seconds."""
    env = {"CRONWELL_DATABASE_URL": postgres.new_database(), "CRONWELL_POLL_SECONDS": "30"}
    start_service(env, workdir=tmp_path_factory.mktemp("pg-runs"))
    api_only = start_service(
        {**env, "CRONWELL_EXECUTE": "false"}, workdir=tmp_path_factory.mktemp("pg-api")
    )
    logging_job(api_only, "woken", tmp_path / "ids", schedule="0 3 * * *")
    wait_for(lambda: len(api_only.get("/api/workers").json()) == 2)
    for _ in range(3):
        run = api_only.post("/api/jobs/woken/run").json()
        path = f"/api/jobs/woken/executions/{run['id']}"
        wait_for(lambda p=path: api_only.get(p).json()["status"] == "success", timeout=8)
