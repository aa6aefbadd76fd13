"""The job page starts with its last runs as a chart (a bar a run, coloured by status,
each opening its run), the success rate, p50 and p95 durations and the last error; its
runs table filters by status."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import run_and_wait


def _run(service, job_id: str, url: str) -> dict:
    return run_and_wait(service, job_id, json={"configuration": {"url": url}})


def test_the_chart_marks_match_the_runs(page, service, make_job, target):
    job = make_job(name="Charted")
    runs = [
        _run(service, job["id"], target.url("/ok")),
        _run(service, job["id"], target.url("/status/500")),
        _run(service, job["id"], target.url("/ok")),
    ]
    assert [r["status"] for r in runs] == ["success", "failed", "success"]
    page.goto(f"/ui/jobs/{job['id']}")
    bars = page.locator(".chart rect.bar")
    expect(bars).to_have_count(3)
    assert [bars.nth(i).get_attribute("data-run") for i in range(3)] == [str(r["id"]) for r in runs]
    assert [bars.nth(i).get_attribute("class") for i in range(3)] == [
        "bar tone-good", "bar tone-bad", "bar tone-good",
    ]  # fmt: skip
    history = page.get_by_role("region", name=re.compile("Last 3 runs"))
    expect(history).to_contain_text("67% (2 of 3)")
    expect(history.locator("figcaption")).to_contain_text("1 failed, 2 success")
    expect(history.locator(".last-error")).to_contain_text(f"run #{runs[1]['id']}")
    expect(history.locator(".last-error")).to_contain_text("500")
    page.get_by_role("link", name=f"Run #{runs[1]['id']}: failed").click()
    expect(page.get_by_role("heading", name=f"Run #{runs[1]['id']}")).to_be_visible()


def test_the_runs_table_filters_by_status(page, service, make_job, target):
    job = make_job(name="Filtered runs")
    ok = _run(service, job["id"], target.url("/ok"))
    failed = _run(service, job["id"], target.url("/status/500"))
    page.goto(f"/ui/jobs/{job['id']}")
    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    table = page.get_by_role("region", name="Runs", exact=True)
    expect(table.get_by_role("link", name=f"#{failed['id']}", exact=True)).to_be_visible()
    expect(table.get_by_role("link", name=f"#{ok['id']}", exact=True)).to_have_count(0)
