"""CRONWELL_DATABASE_URL=postgresql+psycopg://...: two instances, one database, one leader."""

import json
import re
import time

import pytest

from tests.scheduler.test_many_workers import assert_once_per_fire
from tests.support import run_and_wait, scrape, wait_for


@pytest.fixture
def pair(start_service, postgres, tmp_path_factory):
    url = postgres.new_database()
    env = {"CRONWELL_DATABASE_URL": url}
    first = start_service(env, workdir=tmp_path_factory.mktemp("pg-a"))
    second = start_service(env, workdir=tmp_path_factory.mktemp("pg-b"))
    return first, second


def test_two_instances_share_one_database_and_one_scheduler(pair, target):
    first, second = pair
    status_a = first.get("/api/scheduler").json()
    status_b = second.get("/api/scheduler").json()
    assert status_a["leader"]["pid"] == status_b["leader"]["pid"]
    assert status_a["this_process_leads"] != status_b["this_process_leads"]
    for name, instance in (("pg-a", first), ("pg-b", second)):
        response = instance.post(
            "/api/jobs",
            json={
                "id": name,
                "name": name,
                "type": "http",
                "schedule": "1s",
                "configuration": {"url": target.url(f"/ok?{name}-")},
                "retry_count": 1,
            },
        )
        assert response.status_code == 201, response.text
    # Both serve the API and see each other's jobs.
    assert second.get("/api/jobs/pg-a").status_code == 200
    assert first.get("/api/engine/cron/pg-b").status_code == 200
    time.sleep(4)
    for name in ("pg-a", "pg-b"):
        first.post(f"/api/jobs/{name}/disable")
    time.sleep(0.5)
    for name in ("pg-a", "pg-b"):
        assert len(assert_once_per_fire(first, target, name)) >= 3
    # The dashboard's chart counts them by hour on PostgreSQL too.
    dashboard = second.get("/ui/")
    assert dashboard.status_code == 200
    totals = [int(n) for n in re.findall(r'data-total="(\d+)"', dashboard.text)]
    assert len(totals) == 24 and sum(totals) >= 6


def test_run_now_and_cancel_through_the_instance_that_does_not_lead(pair, target):
    first, second = pair
    follower = second if first.get("/api/scheduler").json()["this_process_leads"] else first
    created = follower.post(
        "/api/jobs",
        json={
            "id": "pg-run",
            "name": "r",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": target.url("/slow/20?pg-run")},
        },
    )
    assert created.status_code == 201
    run = follower.post("/api/jobs/pg-run/run").json()
    wait_for(
        lambda: (
            follower.get(f"/api/jobs/pg-run/executions/{run['id']}").json()["status"] == "running"
        )
    )
    cancelled = follower.post(f"/api/jobs/pg-run/executions/{run['id']}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert len(target.hits_for("pg-run")) == 1


def test_killing_the_leading_instance_hands_over_within_5_seconds(pair, target):
    first, second = pair
    leader, other = (
        (first, second)
        if first.get("/api/scheduler").json()["this_process_leads"]
        else (second, first)
    )
    other.post(
        "/api/jobs",
        json={
            "id": "pg-failover",
            "name": "f",
            "type": "http",
            "schedule": "1s",
            "misfire_grace_seconds": 1,
            "configuration": {"url": target.url("/ok?pg-failover-")},
        },
    )
    other.wait_executions("pg-failover", 2)
    old_pid = other.get("/api/scheduler").json()["leader"]["pid"]
    leader.kill()
    started = time.monotonic()
    wait_for(
        lambda: other.get("/api/scheduler").json()["this_process_leads"], timeout=5, interval=0.1
    )
    assert time.monotonic() - started < 5
    assert other.get("/api/scheduler").json()["leader"]["pid"] != old_pid
    before = len(other.executions("pg-failover", status="success"))
    wait_for(
        lambda: len(other.executions("pg-failover", status="success")) >= before + 2, timeout=5
    )
    assert_once_per_fire(other, target, "pg-failover")


def test_instances_starting_together_on_a_new_database_all_come_up(
    start_service, postgres, tmp_path_factory
):
    env = {"CRONWELL_DATABASE_URL": postgres.new_database(), "WEB_CONCURRENCY": "2"}
    services = [
        start_service(env, workdir=tmp_path_factory.mktemp(f"pg-new-{i}"), wait=False)
        for i in range(2)
    ]
    for service in services:
        service.wait_healthy()
        assert service.get("/api/jobs").status_code == 200


def test_notifications_and_metrics_on_postgresql(pair, target):
    """The outbox, the counts and the failing flag on PostgreSQL: a failure notifies once,
    then a recovery; both instances' /metrics say the same."""
    first, second = pair
    marker = f"pg-notify-{time.time_ns()}"
    created = first.post(
        "/api/jobs",
        json={
            "id": "pg-notify",
            "name": "n",
            "type": "http",
            "schedule": "1h",
            "configuration": {"url": target.url("/status/500")},
            "notify": {"urls": [target.url(f"/hook/{marker}")]},
        },
    )
    assert created.status_code == 201, created.text
    assert run_and_wait(second, "pg-notify")["status"] == "failed"
    wait_for(lambda: target.hits_for(marker), timeout=10)  # (tries run side by side)
    first.patch("/api/jobs/pg-notify", json={"configuration": {"url": target.url("/ok")}})
    assert run_and_wait(first, "pg-notify")["status"] == "success"
    wait_for(lambda: len(target.hits_for(marker)) == 2, timeout=10)
    events = [json.loads(h["body"])["event"] for h in target.hits_for(marker)]
    assert events == ["failure", "recovery"]

    def totals(instance) -> dict:
        return {
            (s.labels["job_id"], s.labels["status"]): s.value
            for s in scrape(instance, "cronwell_executions_total")
        }

    # Each answers from its snapshot, rendered again within METRICS_REFRESH_SECONDS.
    agreed = wait_for(
        lambda: (t := totals(first)) == totals(second) and t.get(("pg-notify", "success")) and t,
        timeout=15,
        interval=0.5,
    )
    assert agreed[("pg-notify", "failed")] == 1
    sent = wait_for(
        lambda: (
            {s.labels["status"]: s.value for s in scrape(first, "cronwell_notifications_total")}[
                "sent"
            ]
            == 2
        ),
        timeout=15,
        interval=0.5,
    )
    assert sent
