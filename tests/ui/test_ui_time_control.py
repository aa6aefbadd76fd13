"""Time control in the UI: Pause and Resume on the dashboard, the banner every page shows
while paused, and a heartbeat monitor's page (its ping URL with curl and crontab lines for
admins, a new URL on request, the secret kept from viewers)."""

from __future__ import annotations

import requests
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


def test_a_monitor_page_shows_how_to_ping_it(page, service):
    made = service.post("/api/jobs", headers=AUTH, json={
        "id": "db-dump", "name": "db dump", "type": "heartbeat", "schedule": "15 3 * * *",
        "misfire_grace_seconds": 600})  # fmt: skip
    assert made.status_code == 201, made.text
    url = made.json()["ping_url"]
    sign_in(page, TOKEN)
    page.goto("/ui/jobs/db-dump")
    section = page.get_by_role("region", name="Ping URL")
    expect(section.locator("code.ping-url")).to_have_text(url)
    expect(section).to_contain_text(f"curl -fsS -m 10 --retry 5 {url}/start")
    expect(section).to_contain_text("15 3 * * * /usr/local/bin/backup.sh; curl -fsS")
    expect(section).to_contain_text("waits 600 s")
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)
    assert serious_violations(page) == []
    # The page's own curl line works as written.
    assert requests.get(url, timeout=10).text == "OK"
    runs = page.get_by_role("region", name="Runs", exact=True)
    expect(runs).to_contain_text("ping")  # the live list follows (htmx)

    page.get_by_role("button", name="New ping URL").click()
    expect(page.get_by_text("New ping URL made")).to_be_visible()
    renewed = page.locator("code.ping-url").inner_text()
    assert renewed != url and requests.get(url, timeout=10).status_code == 404

    password = "viewer-password-9f"
    viewer = {"username": "monitor-watcher", "role": "viewer", "password": password}
    assert service.post("/api/users", headers=AUTH, json=viewer).status_code == 201
    page.context.clear_cookies()
    sign_in(page, password, username="monitor-watcher")
    page.goto("/ui/jobs/db-dump")
    section = page.get_by_role("region", name="Ping URL")
    expect(section).to_contain_text("Only admins see the ping URL")
    assert renewed not in page.content()
    expect(page.get_by_role("button", name="New ping URL")).to_have_count(0)
