"""The jobs list: search by id or name as you type, sorting, a running job shown as
running, and actions on the selected rows (delete asks first)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import until_file, wait_for


def _names(page) -> list[str]:
    return page.locator("table.jobs tbody tr td:nth-child(2) > a").all_inner_texts()


def test_search_matches_the_id_and_applies_as_you_type(page, service, make_job):
    make_job(id="zeta-4410", name="Unremarkable")
    make_job(name="Other")
    page.goto("/ui/jobs")
    page.get_by_label("Name or ID contains").fill("zeta-44")  # no button pressed
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="Unremarkable")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=zeta-44"))


def test_sorting_by_name_both_ways(page, service, make_job):
    for name in ("Sort b", "Sort a", "Sort c"):
        make_job(name=name)
    page.goto("/ui/jobs?q=Sort")
    assert _names(page) == ["Sort b", "Sort a", "Sort c"]  # oldest first
    page.get_by_role("link", name="Name", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    assert _names(page) == ["Sort a", "Sort b", "Sort c"]
    page.get_by_role("link", name=re.compile(r"^Name")).click()
    expect(page).to_have_url(re.compile(r"sort=-name"))
    assert _names(page) == ["Sort c", "Sort b", "Sort a"]


def test_a_running_job_shows_as_running(page, service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    job = make_job(
        name="Long runner", type="shell", configuration={"command": until_file(go_on, "true")}
    )
    page.goto("/ui/jobs?q=Long+runner")
    row = page.locator("table.jobs tbody tr").first
    expect(row.locator(".status")).to_have_text("never run")
    service.post(f"/api/jobs/{job['id']}/run")
    expect(row.locator(".status")).to_have_text("running")
    go_on.touch()
    expect(row.locator(".status")).to_have_text("success")


def test_bulk_disable_and_a_confirmed_bulk_delete(page, service, make_job):
    jobs = [make_job(name=f"Bulk {n}") for n in range(3)]
    page.goto("/ui/jobs?q=Bulk")
    page.get_by_label("Select Bulk 0").check()
    page.get_by_label("Select Bulk 1").check()
    page.wait_for_timeout(4000)  # a refresh is due: the selection stays
    expect(page.get_by_label("Select Bulk 1")).to_be_checked()
    page.get_by_role("button", name="Disable selected").click()
    expect(page.get_by_role("status")).to_contain_text("2 jobs disabled")
    enabled = {j["id"]: service.get(f"/api/jobs/{j['id']}").json()["is_enabled"] for j in jobs}
    assert list(enabled.values()) == [False, False, True]
    page.get_by_label("Select Bulk 2").check()
    page.get_by_role("button", name="Delete selected…").click()
    expect(page.get_by_role("heading", name="Delete 1 job?")).to_be_visible()
    assert service.get(f"/api/jobs/{jobs[2]['id']}").status_code == 200  # not yet
    page.get_by_role("button", name="Delete them").click()
    expect(page.get_by_role("status")).to_contain_text("1 job deleted")
    wait_for(lambda: service.get(f"/api/jobs/{jobs[2]['id']}").status_code == 404)
