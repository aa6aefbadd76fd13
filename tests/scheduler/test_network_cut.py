"""Two hosts on one PostgreSQL, and a network cut: the hosts are network namespaces this
test makes (tests/support/netns.py), each joined to the database's namespace by a veth
pair; the cut takes one pair down.

The cut host's runs are recorded ``interrupted`` once their lease ends and retried on
the other host; the cut host stops them itself, and nothing runs twice."""

from __future__ import annotations

import os

import pytest

from tests.support import Service, wait_for
from tests.support.netns import Host, can_make_hosts
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
def hosts():
    if not can_make_hosts() or find_postgres() is None:
        message = "needs root, iproute2 and PostgreSQL (make test sets them up as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run this test")
        pytest.skip(message)
    made: list[Host] = []
    try:
        made.extend(Host(index) for index in (1, 2))
        yield made
    finally:
        for host in made:
            host.remove()


def test_a_host_cut_off_has_its_runs_interrupted_and_retried_on_the_other(hosts, tmp_path):
    first, second = hosts
    postgres = Postgres(find_postgres(), listen=("127.0.0.1", *(h.outer_address for h in hosts)))
    services: list[Service] = []
    try:
        postgres.new_database()
        env = {"CRONWELL_LEASE_SECONDS": "4", "CRONWELL_SHELL_JOBS_ENABLED": "true"}

        def start(host: Host) -> Service:
            url = postgres.url("cronwell_1", host.outer_address)
            service = Service(
                tmp_path / host.namespace,
                {**env, "CRONWELL_DATABASE_URL": url},
                host=host.address,
                prefix=host.prefix,
            )
            service.workdir.mkdir()
            services.append(service)
            return service.start()

        cut = start(first)
        ids, marker = tmp_path / "ids", tmp_path / "first-attempt"
        # Started before the other host is up, so the cut host runs its first attempt.
        hanging_first_attempt(cut, "cut-run", ids, marker)
        run = cut.post("/api/jobs/cut-run/run").json()
        wait_for(marker.exists)
        other = start(second)
        jobs = [f"cut-every-{i}" for i in range(3)]
        for job_id in jobs:
            logging_job(other, job_id, ids)
        wait_for_more_runs(ids, 6, timeout=15)

        first.cut()
        path = f"/api/jobs/cut-run/executions/{run['id']}"
        # Three leases of 4 s: the leadership passing, the new leader's wait before it
        # reaps (every worker gets a lease to renew), the run's own; with room for a busy
        # machine (a CI run took more than 20 s).
        ended = wait_for(lambda: (e := other.get(path).json())["status"] != "running" and e, 45)
        assert ended["status"] == "interrupted" and "lease" in ended["error"], ended
        retry = wait_for(
            lambda: (r := other.executions("cut-run", status="success")) and r[0], timeout=15
        )
        assert (retry["trigger"], retry["retry_of"]) == ("retry", run["id"])
        assert retry["worker"] != ended["worker"]
        # The jobs go on on the host that still reaches the database.
        wait_for_more_runs(ids, 6, timeout=15)
        # Cut off for a whole lease, the host stopped the run itself.
        stopped = "could not reach the database for a whole lease"
        wait_for(lambda: stopped in cut.log_path.read_text(errors="replace"), 15)

        first.heal()
        rows = settled_rows(other, [*jobs, "cut-run"])
        assert_each_ran_once_and_is_recorded(rows, ids, allow=("success", "interrupted"))
        assert str(run["id"]) in ran_ids(ids) and str(retry["id"]) in ran_ids(ids)
    finally:
        for service in services:
            service.stop(timeout=15)
        postgres.stop()
