"""Chains: on_success and on_failure start other jobs when a run ends, once per run (after
its last retry), written with the outcome so that a crash cannot lose the hand-off."""

from __future__ import annotations

from tests.support import until_file, wait_for


def _chained(service, job_id: str) -> list[dict]:
    return [e for e in service.executions(job_id) if e["trigger"] == "chain"]


def test_success_runs_on_success_and_failure_runs_on_failure(service, make_job, target):
    after_ok = make_job(name="after ok")
    after_fail = make_job(name="after fail")
    source = make_job(on_success=[after_ok["id"]], on_failure=[after_fail["id"]])
    assert source["on_success"] == [after_ok["id"]]
    run = service.post(f"/api/jobs/{source['id']}/run").json()
    [chained] = wait_for(lambda: _chained(service, after_ok["id"]))
    assert chained["triggered_by"] == run["id"]
    done = wait_for(
        lambda: (e := service.get(f"/api/jobs/{after_ok['id']}/executions/{chained['id']}")
                 .json())["status"] == "success" and e
    )  # fmt: skip
    assert done["started_at"] >= run["scheduled_at"]
    service.put(
        f"/api/jobs/{source['id']}", json={"configuration": {"url": target.url("/status/500")}}
    )
    failed = service.post(f"/api/jobs/{source['id']}/run").json()
    [on_fail] = wait_for(lambda: _chained(service, after_fail["id"]))
    assert on_fail["triggered_by"] == failed["id"]
    assert len(_chained(service, after_ok["id"])) == 1


def test_a_chain_fires_once_per_run_after_the_last_retry(service, make_job, target):
    after = make_job(name="after retries")
    source = make_job(
        configuration={"url": target.url("/status/503")},
        retry_count=2,
        retry_delay_seconds=1,
        on_failure=[after["id"]],
    )
    first = service.post(f"/api/jobs/{source['id']}/run").json()
    attempts = wait_for(
        lambda: (
            (rows := service.executions(source["id"]))
            and len(rows) == 3
            and all(r["status"] == "failed" for r in rows)
            and rows
        ),
        timeout=15,
    )
    [chained] = wait_for(lambda: _chained(service, after["id"]))
    assert chained["triggered_by"] == attempts[0]["id"] != first["id"]
    assert attempts[0]["attempt"] == 3


def test_a_disabled_target_gets_a_skipped_row_saying_so(service, make_job):
    off = make_job(name="switched off", is_enabled=False)
    source = make_job(on_success=[off["id"]])
    run = service.post(f"/api/jobs/{source['id']}/run").json()
    [skipped] = wait_for(lambda: _chained(service, off["id"]))
    assert skipped["status"] == "skipped"
    assert skipped["triggered_by"] == run["id"]
    assert "disabled" in skipped["error"]


def test_unknown_and_deleted_targets_and_loops_are_refused(service, make_job):
    a = make_job(name="loop a")
    b = make_job(name="loop b", on_success=[a["id"]])
    response = service.put(f"/api/jobs/{a['id']}", json={"on_failure": [b["id"]]})
    assert response.status_code == 422
    assert response.json()["errors"]["on_failure"] == [
        f"The chain loops back to this job: {a['id']} -> {b['id']} -> {a['id']}."
    ]
    itself = service.put(f"/api/jobs/{a['id']}", json={"on_success": [a["id"]]})
    assert itself.status_code == 422 and "loops" in itself.json()["errors"]["on_success"][0]
    unknown = service.put(f"/api/jobs/{a['id']}", json={"on_success": ["no-such-job"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["on_success"] == ["Unknown job 'no-such-job'."]
    gone = make_job(name="gone")
    service.delete(f"/api/jobs/{gone['id']}")
    deleted = service.put(f"/api/jobs/{a['id']}", json={"on_success": [gone["id"]]})
    assert deleted.status_code == 422
    assert "deleted" in deleted.json()["errors"]["on_success"][0]
    too_many = service.put(f"/api/jobs/{a['id']}", json={"on_success": [b["id"]] * 21})
    assert too_many.status_code == 422 and "on_success" in too_many.json()["errors"]
    bad_id = service.put(f"/api/jobs/{a['id']}", json={"on_success": ["../x"]})
    assert bad_id.status_code == 422 and "on_success.0" in bad_id.json()["errors"]
    assert service.get(f"/api/jobs/{a['id']}").json()["on_failure"] == []


def test_a_kill_9_between_the_outcome_and_the_chained_start_still_runs_the_chain(
    start_service, tmp_path
):
    """The hand-off is a queued row written with the outcome: a kill -9 before it starts
    loses nothing, and the next start runs it under its own id."""
    env = {"CRONWELL_MAX_CONCURRENT": "1", "CRONWELL_LEASE_SECONDS": "3"}
    service = start_service(env)

    def shell(name: str, command: str, **fields) -> dict:
        body = {"name": name, "type": "shell", "schedule": "1h",
                "configuration": {"command": command}, **fields}  # fmt: skip
        response = service.post("/api/jobs", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    after = shell("after", "true")
    source = shell("source", "sleep 1", on_success=[after["id"]])
    hog = shell("hog", until_file(tmp_path / "never", limit_seconds=60))
    run = service.post(f"/api/jobs/{source['id']}/run").json()
    # Queued before the source ends: it takes the one slot when it frees, and the
    # chained run waits behind it.
    service.post(f"/api/jobs/{hog['id']}/run")
    [waiting] = wait_for(lambda: _chained(service, after["id"]))
    wait_for(lambda: service.executions(hog["id"])[0]["status"] == "running")
    assert (
        service.get(f"/api/jobs/{after['id']}/executions/{waiting['id']}").json()["status"]
        == "queued"
    )
    service.kill()
    again = start_service(env, workdir=service.workdir)
    # The hog's run is interrupted once its lease ends, and the chained run takes the slot.
    row = wait_for(
        lambda: (
            (e := again.get(f"/api/jobs/{after['id']}/executions/{waiting['id']}").json())
            and e["status"] == "success"
            and e
        ),
        timeout=15,
    )
    assert row["trigger"] == "chain" and row["triggered_by"] == run["id"]
    hog_run = wait_for(
        lambda: (e := again.executions(hog["id"])[0])["status"] != "running" and e, timeout=15
    )
    assert hog_run["status"] == "interrupted" and "lease" in hog_run["error"]
    source_run = again.get(f"/api/jobs/{source['id']}/executions/{run['id']}").json()
    assert source_run["status"] == "success"


def test_a_chained_run_of_a_job_still_running_is_skipped(service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    busy = make_job(name="busy target", type="shell", configuration={"command": until_file(go_on)})
    source = make_job(on_success=[busy["id"]])
    service.post(f"/api/jobs/{busy['id']}/run")
    wait_for(lambda: service.executions(busy["id"])[0]["status"] == "running")
    run = service.post(f"/api/jobs/{source['id']}/run").json()
    [skipped] = wait_for(lambda: _chained(service, busy["id"]))
    skipped = wait_for(
        lambda: (e := service.get(f"/api/jobs/{busy['id']}/executions/{skipped['id']}")
                 .json())["status"] == "skipped" and e
    )  # fmt: skip
    assert skipped["triggered_by"] == run["id"]
    assert "still in progress" in skipped["error"]
    go_on.touch()
