"""The http job type's client: keep-alive reuse, a connection the server dropped, gzip."""

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
