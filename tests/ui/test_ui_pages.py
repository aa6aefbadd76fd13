"""The web UI's pages in a real Chromium against a real service: what each shows, and
that pages listing runs update as runs happen, without a reload."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import until_file, wait_for


def _mark(page) -> None:
    """Set a value that a reload would lose (so a test can tell a swap from a reload)."""
    page.evaluate("window.notReloaded = true")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.notReloaded === true")


def test_root_redirects_to_the_dashboard_with_counts_runs_and_next_fires(
    page, service, make_job, tmp_path
):
    make_job(name="Dashboard hourly")
    go_on = tmp_path / "go-on"
    waiter = make_job(
        name="Dashboard waiter",
        type="shell",
        configuration={"command": until_file(go_on, then="exit 3")},
    )
    page.goto("/")
    assert page.url.endswith("/ui/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_text("scheduler running")).to_be_visible()
    expect(page.get_by_text(re.compile(r"held by pid \d+ on "))).to_be_visible()
    fires = page.get_by_role("region", name="Next fires")
    expect(fires.get_by_role("link", name="Dashboard hourly")).to_be_visible()
    _mark(page)
    run = service.post(f"/api/jobs/{waiter['id']}/run").json()
    running = page.get_by_role("region", name="Running now")
    expect(running.get_by_role("link", name=f"#{run['id']}")).to_be_visible()
    expect(running.get_by_text("running", exact=True)).to_be_visible()
    go_on.touch()
    problems = page.get_by_role("region", name="Recent failures and misses")
    expect(problems.get_by_role("link", name=f"#{run['id']}")).to_be_visible()
    expect(problems.get_by_text("Exit code 3.")).to_be_visible()
    assert _not_reloaded(page)


def test_the_jobs_page_searches_filters_and_pages(page, service, make_job):
    for number in range(52):
        make_job(name=f"Paged {number:02d}")
    make_job(name="Paged shell", type="shell", configuration={"command": "true"})
    page.goto("/ui/jobs")
    page.get_by_label("Name or ID contains").fill("Paged")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("53 jobs")).to_be_visible()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(50)
    header = [c.strip() for c in page.locator("table.jobs thead th").all_inner_texts()]
    assert header[1:9] == [
        "Name", "Type", "Schedule", "Timezone", "Next run", "Last run", "Status", "Enabled"
    ]  # fmt: skip
    first = rows.first
    expect(first.get_by_role("link", name="Paged 00")).to_be_visible()
    expect(first).to_contain_text("Every hour")
    expect(first).to_contain_text("never run")
    expect(first.get_by_role("button", name="Run now")).to_be_visible()
    expect(first.get_by_role("button", name="Disable")).to_be_visible()
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    page.get_by_label("Type").select_option("shell")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name="Paged shell")).to_be_visible()
    page.get_by_label("Type").select_option("")
    page.get_by_label("Last status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()


def test_the_jobs_page_updates_a_row_s_last_status_as_runs_end(page, service, make_job, target):
    job = make_job(name="Status follower", configuration={"url": target.url("/status/500")})
    page.goto("/ui/jobs?q=Status+follower")
    row = page.locator("table.jobs tbody tr").first
    expect(row).to_contain_text("never run")
    _mark(page)
    service.post(f"/api/jobs/{job['id']}/run")
    expect(row.locator(".status")).to_have_text("failed")
    assert _not_reloaded(page)


def test_the_job_page_shows_its_fields_next_fires_with_dst_warning_and_runs(
    page, service, make_job, target
):
    job = make_job(
        name="Paris night",
        schedule="30 2 * * *",
        timezone="Europe/Paris",
        description="Runs at half past two, Paris time.",
        retry_count=2,
    )
    page.goto(f"/ui/jobs/{job['id']}")
    expect(page.get_by_role("heading", name="Paris night", level=1)).to_be_visible()
    definition = page.get_by_role("region", name="Definition")
    for text in (job["id"], "Europe/Paris", "30 2 * * *", "At 02:30 AM", "2, first after 10 s"):
        expect(definition).to_contain_text(text)
    expect(page.locator("p.description")).to_have_text("Runs at half past two, Paris time.")
    fires = page.get_by_role("region", name="Next fires").locator("time")
    expect(fires).to_have_count(5)
    # In the job's timezone, with UTC on hover.
    first = fires.first
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 02:30:00 (CET|CEST)", first.inner_text())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 0[01]:30:00 UTC", first.get_attribute("title"))
    expect(page.get_by_role("note").first).to_contain_text("the DST change in Europe/Paris skips")
    for name in ("Run now", "Disable"):
        expect(page.get_by_role("button", name=name)).to_be_visible()
    for name in ("Edit", "Delete"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    _mark(page)
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    runs = page.locator("table.runs tbody tr")
    expect(runs).to_have_count(1)
    row = runs.first
    expect(row.get_by_role("link", name=f"#{run['id']}")).to_be_visible()
    expect(row.locator(".status")).to_have_text("success")
    cells = row.locator("td").all_inner_texts()
    assert cells[2] == "manual"
    assert re.fullmatch(r"\d+ ms|\d+\.\d s", cells[5]), cells  # lateness
    assert re.fullmatch(r"\d+ ms|\d+\.\d s", cells[6]), cells  # duration
    assert _not_reloaded(page)


def test_the_execution_page_follows_a_running_run_s_output(page, service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    job = make_job(
        name="Printer",
        type="shell",
        configuration={"command": "echo first line; " + until_file(go_on, then="echo last line")},
    )
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    page.goto(f"/ui/jobs/{job['id']}/executions/{run['id']}")
    expect(page.get_by_role("heading", name=f"Run #{run['id']}")).to_be_visible()
    output = page.locator("pre#output")
    expect(output).to_have_text("first line\n")
    expect(page.locator(".big-status .status")).to_have_text("running")
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    _mark(page)
    go_on.touch()
    expect(output).to_have_text("first line\nlast line\n")
    expect(page.locator(".big-status .status")).to_have_text("success")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.locator("dl.fields")).to_contain_text("manual")
    expect(page.locator("dl.fields")).to_contain_text('"exit_code": 0')
    assert _not_reloaded(page)


def test_the_execution_page_lists_its_notifications(page, service, make_job, target):
    job = make_job(
        name="Notifier",
        configuration={"url": target.url("/status/500")},
        notify={"on": ["failure"], "urls": [target.url("/ok?token=hunter2")]},
    )
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    url = f"/api/jobs/{job['id']}/executions/{run['id']}"
    wait_for(lambda: [n for n in service.get(url).json()["notifications"] if n["status"] == "sent"])
    page.goto(f"/ui/jobs/{job['id']}/executions/{run['id']}")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("failure")
    expect(row).to_contain_text("sent")
    expect(row).to_contain_text("token=****")
    expect(page.locator("body")).not_to_contain_text("hunter2")


def test_an_unknown_page_or_job_is_a_404_page(page, service):
    response = page.goto("/ui/jobs/no-such-job")
    assert response.status == 404
    expect(page.get_by_text("Job 'no-such-job' not found")).to_be_visible()
    response = page.goto("/ui/no/such/page")
    assert response.status == 404
    expect(page.get_by_text("There is no such page.")).to_be_visible()


def test_pages_read_well_at_phone_width(page, service, make_job):
    job = make_job(name="Phone width job", tags=["phone", "narrow"], description="x " * 200)
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    page.set_viewport_size({"width": 390, "height": 800})
    for path in (
        "/ui/",
        "/ui/jobs",
        "/ui/jobs/new",
        f"/ui/jobs/{job['id']}",
        f"/ui/jobs/{job['id']}/executions/{run['id']}",
        "/ui/workers",
    ):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide at a 390px phone width"


def test_no_page_asks_another_host_for_anything(page, service, make_job):
    job = make_job(name="Offline check")
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    for path in (
        "/ui/",
        "/ui/jobs",
        f"/ui/jobs/{job['id']}",
        f"/ui/jobs/{job['id']}/executions/{run['id']}",
        "/ui/jobs/new",
        f"/ui/jobs/{job['id']}/edit",
        f"/ui/jobs/{job['id']}/delete",
        "/ui/workers",
        "/docs",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert any("/ui/static/vendor/htmx" in url for url in page.requests.urls)
    assert any("/docs/assets/" in url for url in page.requests.urls)
    # The page fixture fails the test if any request went to another host.


def test_the_workers_page_lists_each_worker_and_a_run_names_its_worker(page, service, make_job):
    job = make_job(name="Worker shown")
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    path = f"/api/jobs/{job['id']}/executions/{run['id']}"
    done = wait_for(lambda: (e := service.get(path).json())["status"] == "success" and e)
    page.goto(f"/ui/jobs/{job['id']}/executions/{run['id']}")
    page.get_by_role("link", name=done["worker"]).click()
    expect(page.get_by_role("heading", name="Workers")).to_be_visible()
    row = page.locator("#workers tbody tr").filter(has_text=done["worker"])
    expect(row).to_contain_text("leader")
    expect(row).to_contain_text("alive")
    expect(row).to_contain_text("of 10")
    _mark(page)
    heartbeat = row.locator("td").nth(5).inner_text()
    expect(row.locator("td").nth(5)).not_to_have_text(heartbeat, timeout=8000)  # live
    assert _not_reloaded(page)
