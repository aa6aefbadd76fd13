"""The UI shows and edits tags, chains and jitter, filters the jobs by tag, and links a
chained run to the run that started it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import wait_for


def test_the_form_sets_tags_chains_and_jitter_and_refuses_bad_ones(page, service, make_job):
    after = make_job(name="UI chain target")
    page.goto("/ui/jobs/new")
    page.get_by_label("Name").fill("UI chained job")
    page.get_by_label("ID (optional)").fill("ui-chained")
    page.get_by_label("Schedule", exact=True).fill("1h")
    page.locator("#config-url").fill(f"{service.base_url}/healthz")
    page.get_by_label("Tags").fill("bad tag!")
    page.get_by_label("On success run").fill("no-such-job")
    page.get_by_label("Jitter (s)").fill("7200")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-tags")).to_contain_text("#2: Must be 1-63 characters")
    expect(page.locator("#error-jitter_seconds")).to_contain_text("less than or equal to 3600")
    page.get_by_label("Tags").fill("team:web, nightly")
    page.get_by_label("Jitter (s)").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-on_success")).to_contain_text("Unknown job 'no-such-job'.")
    page.get_by_label("On success run").fill(after["id"])
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/ui-chained$"))
    job = service.get("/api/jobs/ui-chained").json()
    assert job["tags"] == ["nightly", "team:web"] and job["jitter_seconds"] == 30
    assert job["on_success"] == [after["id"]] and job["on_failure"] == []
    definition = page.get_by_role("region", name="Definition")
    expect(definition).to_contain_text("up to 30 s after each scheduled fire")
    expect(definition.get_by_role("link", name=after["id"])).to_be_visible()
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Tags")).to_have_value("nightly, team:web")
    expect(page.get_by_label("On success run")).to_have_value(after["id"])


def test_the_jobs_page_filters_by_tag(page, service, make_job):
    tagged = make_job(name="UI tagged job", tags=["ui-filter"])
    make_job(name="UI untagged job")
    page.goto("/ui/jobs?q=UI+")
    page.get_by_label("Tag", exact=True).fill("ui-filter")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="UI tagged job")).to_be_visible()
    page.goto("/ui/jobs")
    page.locator("table.jobs").get_by_role("link", name="ui-filter").first.click()
    expect(page).to_have_url(re.compile(r"tag=ui-filter"))
    expect(rows).to_have_count(1)
    assert tagged["tags"] == ["ui-filter"]


def test_a_chained_run_links_to_the_run_that_started_it(page, service, make_job, target):
    after = make_job(name="UI after")
    source = make_job(name="UI source", on_success=[after["id"]])
    run = service.post(
        f"/api/jobs/{source['id']}/run",
        json={"configuration": {"url": target.url("/ok?via=ui-override")}},
    ).json()
    [chained] = wait_for(
        lambda: [e for e in service.executions(after["id"]) if e["trigger"] == "chain"]
    )
    page.goto(f"/ui/jobs/{after['id']}/executions/{chained['id']}")
    page.get_by_role("link", name=f"run #{run['id']}").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{source['id']}/executions/{run['id']}$"))
    expect(page.locator("dl.fields")).to_contain_text("Configuration overrides")
    expect(page.locator("dl.fields")).to_contain_text("via=ui-override")
