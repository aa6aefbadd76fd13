"""The UI's buttons in a real Chromium: run now, disable and enable, delete with
confirmation, restore, cancel; and the keyboard alone is enough to use them."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import until_file


def test_run_now_from_the_job_page_opens_the_run(page, service, make_job):
    job = make_job(name="Run me")
    page.goto(f"/ui/jobs/{job['id']}")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}/executions/\d+$"))
    expect(page.get_by_role("status")).to_contain_text("started")
    expect(page.locator(".big-status .status")).to_have_text("success")
    runs = service.executions(job["id"])
    assert [r["trigger"] for r in runs] == ["manual"]
    assert page.url.endswith(f"/executions/{runs[0]['id']}")


def test_run_now_from_the_list_stays_on_the_list(page, service, make_job):
    job = make_job(name="List runner")
    page.goto("/ui/jobs?q=List+runner")
    page.locator("table.jobs tbody tr").first.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs\?q=List"))
    expect(page.get_by_role("status")).to_contain_text("started")
    assert len(service.executions(job["id"])) == 1


def test_disable_and_enable_change_the_job(page, service, make_job):
    job = make_job(name="Toggle me")
    page.goto(f"/ui/jobs/{job['id']}")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Job disabled")
    after = service.get(f"/api/jobs/{job['id']}").json()
    assert after["is_enabled"] is False and after["next_run_at"] is None
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    after = service.get(f"/api/jobs/{job['id']}").json()
    assert after["is_enabled"] is True and after["next_run_at"] is not None
    # And from the list.
    page.goto("/ui/jobs?q=Toggle+me")
    page.get_by_role("button", name="Disable: Toggle me").click()
    expect(
        page.locator("table.jobs tbody tr").first.get_by_role("button", name="Enable")
    ).to_be_visible()
    assert service.get(f"/api/jobs/{job['id']}").json()["is_enabled"] is False


def test_delete_asks_first_then_restore_brings_the_job_back(page, service, make_job):
    job = make_job(name="Delete me")
    page.goto(f"/ui/jobs/{job['id']}")
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Delete “Delete me”?")).to_be_visible()
    page.get_by_role("link", name="Keep it").click()
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}$"))
    assert service.get(f"/api/jobs/{job['id']}").status_code == 200
    page.get_by_role("link", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))
    expect(page.get_by_role("status")).to_contain_text("Job deleted")
    assert service.get(f"/api/jobs/{job['id']}").status_code == 404
    # The list's "Show deleted" reaches it; its page offers Restore.
    page.get_by_label("Name or ID contains").fill("Delete me")
    page.get_by_label("Show deleted").check()
    page.get_by_role("button", name="Filter").click()
    row = page.locator("table.jobs tbody tr").first
    expect(row).to_contain_text("deleted")
    row.get_by_role("link", name="Delete me").click()
    expect(page.get_by_text("This job was deleted")).to_be_visible()
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    page.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status")).to_contain_text("Job restored")
    restored = service.get(f"/api/jobs/{job['id']}").json()
    assert restored["is_enabled"] is True and restored["next_run_at"] is not None


def test_cancel_stops_a_running_run(page, service, make_job, tmp_path):
    marker = tmp_path / "after"
    job = make_job(
        name="Cancel me", type="shell", configuration={"command": f"sleep 30; touch {marker}"}
    )
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    page.goto(f"/ui/jobs/{job['id']}/executions/{run['id']}")
    expect(page.locator(".big-status .status")).to_have_text("running")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".big-status .status")).to_have_text("cancelled")
    assert service.get(f"/api/jobs/{job['id']}/executions/{run['id']}").json()["status"] == (
        "cancelled"
    )
    assert not marker.exists()


def test_a_refused_action_says_why(page, service, make_job, tmp_path):
    go_on = tmp_path / "go-on"
    job = make_job(
        name="Busy one",
        type="shell",
        configuration={"command": until_file(go_on)},
    )
    service.post(f"/api/jobs/{job['id']}/run")
    page.goto("/ui/jobs?q=Busy+one")
    page.get_by_label("Select Busy one").check()
    page.get_by_role("button", name="Run selected").click()
    expect(page.locator(".flash-error")).to_contain_text("overlap_policy is skip")
    expect(page.get_by_role("status")).to_contain_text("0 jobs started")
    go_on.touch()


def test_the_keyboard_alone_reaches_and_presses_the_buttons(page, service, make_job):
    job = make_job(name="Keyboard job")
    page.goto("/ui/jobs")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Name or ID contains").focus()
    page.keyboard.type("Keyboard job")
    page.keyboard.press("Enter")
    expect(page.get_by_text("1 job", exact=True)).to_be_visible()
    link = page.get_by_role("link", name="Keyboard job")
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/ui/jobs/{job['id']}$"))
    # Tab from the page's heading to the first button, and press it.
    page.get_by_role("heading", name="Keyboard job").click()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Run now":
            break
    expect(page.get_by_role("button", name="Run now")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/executions/\d+$"))
    assert len(service.executions(job["id"])) == 1
