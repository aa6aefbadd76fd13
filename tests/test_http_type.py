"""The http job type's client: keep-alive reuse, a connection the server dropped, gzip."""

import socket
import struct
import time

from app.jobtypes.http import _bound, _PlainConnection
from tests.conftest import wait_for


def _run(service, job) -> dict:
    execution = service.post(f"/api/jobs/{job['id']}/run").json()
    return wait_for(
        lambda: (
            (e := service.get(f"/api/jobs/{job['id']}/executions/{execution['id']}").json())
            and e["status"] not in ("queued", "running")
            and e
        )
    )


def test_runs_to_one_server_reuse_a_connection(service, make_job, target):
    job = make_job(configuration={"url": target.url("/ok?reuse")})
    assert _run(service, job)["status"] == "success"
    assert _run(service, job)["status"] == "success"
    first, second = target.hits_for("reuse")[-2:]
    assert first["client_port"] == second["client_port"], "the second run used a new connection"


def test_a_connection_the_server_dropped_is_not_reused(service, make_job, target):
    job = make_job(configuration={"url": target.url("/drop?dropped")})
    assert _run(service, job)["status"] == "success"
    again = _run(service, job)  # at once: the pool asks the kernel before each reuse
    assert again["status"] == "success", again
    first, second = target.hits_for("dropped")[-2:]
    assert first["client_port"] != second["client_port"]


def test_a_gzip_body_is_recorded_decoded(service, make_job, target):
    job = make_job(configuration={"url": target.url("/gzip")})
    done = _run(service, job)
    assert done["status"] == "success" and done["output"] == "hello, compressed", done


def test_a_reused_connection_takes_the_new_runs_deadline(service, make_job, target):
    """A connection left by a run with a long limit, then reused by a run with a short
    one: its socket gives up at the short run's deadline, so the slow answer that comes
    later is never read (it would be attached to the timed-out row as late output)."""
    long_limit = make_job(configuration={"url": target.url("/ok?deadline")})
    assert _run(service, long_limit)["status"] == "success"
    short_limit = make_job(
        configuration={"url": target.url("/slow/3?deadline")}, max_duration_seconds=1
    )
    row = _run(service, short_limit)
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
    row = _run(service, stalled)
    assert row["status"] == "timeout", row
    time.sleep(2.5)  # the rest of the body has come by now
    row = service.get(f"/api/jobs/{stalled['id']}/executions/{row['id']}").json()
    assert row["output"] == "first half,", row
    after = make_job(configuration={"url": target.url("/ok?stalled")})
    done = _run(service, after)
    assert done["status"] == "success" and done["output"] == "hello from target", done
    first, second = target.hits_for("stalled")[-2:]
    assert first["client_port"] != second["client_port"]


def test_a_time_left_just_under_a_whole_second_bounds_the_socket(target):
    """The kernel timeout is rounded up to the microsecond: a time left such as 2.9999996 s
    must carry into the seconds (tv_usec 1000000 is refused by the kernel)."""
    connection = _PlainConnection("127.0.0.1", target.port, timeout=5)
    connection.connect()
    try:
        for left in (2.9999996, 0.0000001, 7.5):
            _bound(connection, left + 2)  # out of the kept window: set again
            _bound(connection, left)
            assert connection.limit == left
            sent = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
            seconds, micros = struct.unpack("@ll", sent)
            assert left <= seconds + micros / 1_000_000 <= left + 0.02  # kernel ticks
    finally:
        connection.close()
