"""A run that did not succeed offers "Retry"; "Run now" on a job that is already running
(overlap skip) opens the run in progress instead of starting a second one."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import run_and_wait, until_file, wait_for


def test_retry_runs_a_failed_run_again_with_its_overrides(page, service, make_job, target):
    job = make_job(name="Retry me")
    failed = run_and_wait(
        service, job["id"], json={"configuration": {"url": target.url("/status/500")}}
    )
    assert failed["status"] == "failed"
    page.goto(f"/ui/jobs/{job['id']}/executions/{failed['id']}")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text(f"again as run #{failed['id']} was")
    match = re.search(r"/executions/(\d+)$", page.url)
    assert match and int(match.group(1)) > failed["id"]
    again = wait_for(
        lambda: (
            (e := service.get(f"/api/jobs/{job['id']}/executions/{match.group(1)}").json())
            and e["status"] not in ("queued", "running")
            and e
        )
    )
    assert again["configuration_overrides"] == {"url": target.url("/status/500")}
    assert again["status"] == "failed"
    ok = run_and_wait(service, job["id"])
    page.goto(f"/ui/jobs/{job['id']}/executions/{ok['id']}")
    expect(page.locator(".big-status .status")).to_have_text("success")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # it succeeded


def test_run_now_on_a_running_job_opens_the_run_in_progress(page, service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    job = make_job(
        name="Busy",
        type="shell",
        configuration={"command": until_file(go_on, then="true")},
        overlap_policy="skip",
    )
    running = service.post(f"/api/jobs/{job['id']}/run").json()
    wait_for(
        lambda: (
            service.get(f"/api/jobs/{job['id']}/executions/{running['id']}").json()["status"]
            == "running"
        )
    )
    page.goto(f"/ui/jobs/{job['id']}")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(rf"/executions/{running['id']}$"))
    expect(page.locator(".flash")).to_contain_text("this is the run in progress")
    assert len(service.executions(job["id"])) == 1, "no second run"
    go_on.touch()
