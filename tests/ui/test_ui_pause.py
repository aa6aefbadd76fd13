"""Pause and Resume on the dashboard, and the banner every page shows while paused."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import serious_violations, sign_in

TOKEN = "ui-pause-token-6c1d"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_pause_shows_a_banner_everywhere_until_resumed(page, service):
    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_label("Reason").fill("moving the database")
    page.get_by_role("button", name="Pause").click()
    banner = page.locator(".banner")
    expect(banner).to_contain_text("Paused")
    expect(banner).to_contain_text("moving the database")
    assert service.get("/api/scheduler", headers=AUTH).json()["paused"] is True
    assert serious_violations(page) == []
    for path in ("/ui/jobs", "/ui/workers", "/ui/audit"):
        page.goto(path)
        expect(page.locator(".banner")).to_contain_text("moving the database")
    page.goto("/ui/")
    page.get_by_label("Catch up").check()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text("Resumed.")).to_be_visible()
    expect(page.locator(".banner")).to_have_count(0)
    assert service.get("/api/scheduler", headers=AUTH).json()["paused"] is False


def test_a_viewer_sees_the_banner_but_no_pause_button(page, service):
    made = service.post(
        "/api/users",
        headers=AUTH,
        json={"username": "watcher", "role": "viewer", "password": "p" * 12},
    )
    assert made.status_code == 201, made.text
    service.post("/api/scheduler/pause", headers=AUTH, json={"reason": "quiet hours"})
    try:
        sign_in(page, "p" * 12, username="watcher")
        expect(page.locator(".banner")).to_contain_text("quiet hours")
        expect(page.get_by_role("button", name="Resume")).to_have_count(0)
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        refused = page.request.post(
            "/ui/scheduler/resume", form={"csrf_token": token}, max_redirects=0
        )
        assert refused.status == 403
    finally:
        service.post("/api/scheduler/resume", headers=AUTH, json={})
