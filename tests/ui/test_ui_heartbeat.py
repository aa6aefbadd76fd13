"""A heartbeat monitor's page: its ping URL with curl and crontab examples for admins, a
new URL on request, and the secret kept from viewers."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.support.browser import serious_violations, sign_in

TOKEN = "ui-heartbeat-token-2b7c"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
    viewer = {"username": "watcher", "role": "viewer", "password": password}
    assert service.post("/api/users", headers=AUTH, json=viewer).status_code == 201
    page.context.clear_cookies()
    sign_in(page, password, username="watcher")
    page.goto("/ui/jobs/db-dump")
    section = page.get_by_role("region", name="Ping URL")
    expect(section).to_contain_text("Only admins see the ping URL")
    assert renewed not in page.content()
    expect(page.get_by_role("button", name="New ping URL")).to_have_count(0)
