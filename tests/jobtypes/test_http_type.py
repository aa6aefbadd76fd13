"""The http job type's client: keep-alive reuse, a connection the server dropped, gzip."""

import time

from tests.support import run_and_wait


def test_runs_to_one_server_reuse_a_connection(service, make_job, target):
    job = make_job(configuration={"url": target.url("/ok?reuse")})
    assert run_and_wait(service, job["id"])["status"] == "success"
    assert run_and_wait(service, job["id"])["status"] == "success"
    first, second = target.hits_for("reuse")[-2:]
    assert first["client_port"] == second["client_port"], "the second run used a new connection"


def test_a_connection_the_server_dropped_is_not_reused(service, make_job, target):
    job = make_job(configuration={"url": target.url("/drop?dropped")})
    assert run_and_wait(service, job["id"])["status"] == "success"
    again = run_and_wait(service, job["id"])  # at once: the pool asks the kernel before each reuse
    assert again["status"] == "success", again
    first, second = target.hits_for("dropped")[-2:]
    assert first["client_port"] != second["client_port"]


def test_a_gzip_body_is_recorded_decoded(service, make_job, target):
    job = make_job(configuration={"url": target.url("/gzip")})
    done = run_and_wait(service, job["id"])
    assert done["status"] == "success" and done["output"] == "hello, compressed", done


def test_a_reused_connection_takes_the_new_runs_deadline(service, make_job, target):
    """A connection left by a run with a long limit, then reused by a run with a short
    one: its socket gives up at the short run's deadline, so the slow answer that comes
    later is never read (it would be attached to the timed-out row as late output)."""
    long_limit = make_job(configuration={"url": target.url("/ok?deadline")})
    assert run_and_wait(service, long_limit["id"])["status"] == "success"
    short_limit = make_job(
        configuration={"url": target.url("/slow/3?deadline")}, max_duration_seconds=1
    )
    row = run_and_wait(service, short_limit["id"])
    assert row["status"] == "timeout", row
    first, second = target.hits_for("deadline")[-2:]
    assert first["client_port"] == second["client_port"], "the run used a new connection"
    time.sleep(3)  # the slow answer has come by now
    row = service.get(f"/api/jobs/{short_limit['id']}/executions/{row['id']}").json()
    assert row["output"] is None, row


def test_a_body_that_stalls_past_the_deadline_is_not_read_on(service, make_job, target):
    """The socket gives up at the run's deadline in the middle of a body: the row says
    timeout with what came before it, the rest is never read, and the connection is not
    reused (the next request would read the rest as its answer)."""
    stalled = make_job(
        configuration={"url": target.url("/stall/2.5?stalled")}, max_duration_seconds=1
    )
    row = run_and_wait(service, stalled["id"])
    assert row["status"] == "timeout", row
    time.sleep(2.5)  # the rest of the body has come by now
    row = service.get(f"/api/jobs/{stalled['id']}/executions/{row['id']}").json()
    assert row["output"] == "first half,", row
    after = make_job(configuration={"url": target.url("/ok?stalled")})
    done = run_and_wait(service, after["id"])
    assert done["status"] == "success" and done["output"] == "hello from target", done
    first, second = target.hits_for("stalled")[-2:]
    assert first["client_port"] != second["client_port"]
