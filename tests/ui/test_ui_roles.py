"""Signing in as a viewer, an operator and an admin in Chromium: what each sees, that what
their role forbids is refused by the server (not only hidden), the audit page, and a
revision restored from the job page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import serious_violations, sign_in

TOKEN = "ui-roles-token-2f4a"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "a-long-password"


def _world(service) -> str:
    """Three users and a job with two revisions (once per module)."""
    if service.get("/api/jobs/ui-roles", headers=AUTH).status_code == 200:
        return "ui-roles"
    for role in ("viewer", "operator", "admin"):
        made = service.post(
            "/api/users",
            headers=AUTH,
            json={"username": f"{role}-ann", "role": role, "password": PASSWORD},
        )
        assert made.status_code == 201, made.text
    job = service.post(
        "/api/jobs",
        headers=AUTH,
        json={
            "id": "ui-roles",
            "name": "Nightly export",
            "type": "shell",
            "schedule": "1h",
            "configuration": {"command": "true", "env": {"API_TOKEN": "env-secret-77"}},
        },
    )
    assert job.status_code == 201, job.text
    service.put("/api/jobs/ui-roles", headers=AUTH, json={"name": "Nightly export v2"})
    return "ui-roles"  # fmt: skip


def _forged_post(page, path: str) -> int:
    """POST ``path`` as the page's own form would (its session and CSRF token)."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    return page.request.post(path, form={"csrf_token": token}, max_redirects=0).status


def test_a_viewer_sees_no_buttons_and_the_server_refuses_the_actions(page, service):
    job = _world(service)
    sign_in(page, PASSWORD, f"/ui/jobs/{job}", username="viewer-ann")
    expect(page.get_by_role("heading", name="Nightly export v2", level=1)).to_be_visible()
    expect(page.locator("header .who")).to_contain_text("viewer-ann · viewer")
    for name in ("Run now", "Disable", "Edit", "Delete"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="New job")).to_have_count(0)
    expect(page.locator("pre.config")).to_contain_text("••••••")
    expect(page.locator("pre.config")).not_to_contain_text("env-secret-77")
    for path in (f"/ui/jobs/{job}/run", f"/ui/jobs/{job}/disable", f"/ui/jobs/{job}/delete",
                 f"/ui/jobs/{job}/revisions/1/restore"):  # fmt: skip
        assert _forged_post(page, path) == 403, path
    page.goto(f"/ui/jobs/{job}/edit")
    expect(page.get_by_text("This needs the admin role")).to_be_visible()
    assert service.get(f"/api/jobs/{job}", headers=AUTH).json()["is_enabled"] is True


def test_an_operator_runs_but_cannot_edit_or_delete(page, service):
    job = _world(service)
    sign_in(page, PASSWORD, f"/ui/jobs/{job}", username="operator-ann")
    expect(page.get_by_role("button", name="Run now")).to_be_visible()
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Restore this version")).to_have_count(0)
    assert _forged_post(page, f"/ui/jobs/{job}/delete") == 403
    assert service.get(f"/api/jobs/{job}", headers=AUTH).status_code == 200  # not deleted
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text(re.compile(r"Run #\d+ started"))).to_be_visible()


def test_an_admin_restores_a_revision_from_the_job_page_and_finds_it_in_the_audit_log(
    page, service
):
    job = _world(service)
    sign_in(page, PASSWORD, f"/ui/jobs/{job}", username="admin-ann")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Revision 2")
    changed = history.get_by_role("row", name=re.compile("^name Nightly export Nightly"))
    expect(changed.locator("del")).to_have_text("Nightly export")
    expect(changed.locator("ins")).to_have_text("Nightly export v2")
    expect(page.locator("pre.config")).to_contain_text("env-secret-77")  # admins see it
    assert serious_violations(page) == []
    history.get_by_role("button", name="Restore this version").first.click()
    expect(page.get_by_text("Restored revision 1")).to_be_visible()
    expect(page.get_by_role("heading", name="Nightly export", level=1)).to_be_visible()
    assert service.get(f"/api/jobs/{job}", headers=AUTH).json()["name"] == "Nightly export"
    page.goto("/ui/audit?action=job.restore_revision")
    rows = page.get_by_role("row").filter(has_text="job.restore_revision")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("user:admin-ann")
    expect(rows).to_contain_text("ui · 127.0.0.1")
    assert serious_violations(page) == []
