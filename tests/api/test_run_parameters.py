"""Run-now with a configuration body: those keys for that run only, checked by the type's
schema, kept on the execution (and on its retries)."""

from __future__ import annotations

from tests.support import wait_for


def test_overrides_apply_to_that_run_only(service, make_job, target):
    job = make_job(configuration={"url": target.url("/ok?marker=plain")})
    response = service.post(
        f"/api/jobs/{job['id']}/run",
        json={"configuration": {"url": target.url("/ok?marker=overridden"), "method": "POST"}},
    )
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["configuration_overrides"] == {
        "url": target.url("/ok?marker=overridden"),
        "method": "POST",
    }
    [hit] = wait_for(lambda: target.hits_for("marker=overridden"))
    assert hit["method"] == "POST"
    assert (
        service.get(f"/api/jobs/{job['id']}")
        .json()["configuration"]["url"]
        .endswith("marker=plain")
    )
    plain = service.post(f"/api/jobs/{job['id']}/run").json()
    assert plain["configuration_overrides"] is None
    wait_for(lambda: target.hits_for("marker=plain"))


def test_an_override_that_does_not_fit_the_type_is_refused(service, make_job):
    job = make_job()
    for overrides, field in (
        ({"url": "ftp://127.0.0.1/x"}, "configuration.url"),
        ({"method": 5}, "configuration.method"),
        ({"no_such_key": 1}, "configuration.no_such_key"),
    ):
        response = service.post(f"/api/jobs/{job['id']}/run", json={"configuration": overrides})
        assert response.status_code == 422, overrides
        assert field in response.json()["errors"], response.json()
    wrong_shape = service.post(f"/api/jobs/{job['id']}/run", json={"configuration": [1]})
    assert wrong_shape.status_code == 422 and "configuration" in wrong_shape.json()["errors"]
    unknown = service.post(f"/api/jobs/{job['id']}/run", json={"params": {}})
    assert unknown.status_code == 422 and "params" in unknown.json()["errors"]
    assert service.executions(job["id"]) == []


def test_an_idempotency_key_returns_the_first_run_and_retries_keep_the_overrides(
    service, make_job, target
):
    job = make_job(configuration={"url": target.url("/ok")}, retry_count=1, retry_delay_seconds=1)
    body = {"configuration": {"url": target.url("/status/500?marker=retried")}}
    headers = {"Idempotency-Key": "once"}
    first = service.post(f"/api/jobs/{job['id']}/run", json=body, headers=headers)
    again = service.post(f"/api/jobs/{job['id']}/run", json={}, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["configuration_overrides"] == body["configuration"]
    runs = wait_for(
        lambda: (rows := service.executions(job["id"], status="failed")) and len(rows) == 2 and rows
    )
    assert {r["trigger"] for r in runs} == {"manual", "retry"}
    assert all(r["configuration_overrides"] == body["configuration"] for r in runs)
    assert len(target.hits_for("marker=retried")) == 2
