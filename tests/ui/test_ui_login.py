"""Signing in to the UI with CRONWELL_API_TOKEN set, the session cookie, logging out, and
CSRF protection of the UI's forms (the API, with its bearer token, needs none)."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.support.browser import sign_in

TOKEN = "ui-token-5e7f"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _job(service, name: str) -> dict:
    body = {"name": name, "type": "shell", "schedule": "1h", "configuration": {"command": "true"}}
    response = service.post("/api/jobs", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_page_asks_for_the_token_once_then_keeps_a_session(page, service):
    page.goto("/ui/jobs?q=x")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Password").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#error-password")).to_contain_text("not the API token")
    page.get_by_label("Password").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs\?q=x$"))
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http here; see the https test below
    assert TOKEN not in cookie["value"]
    page.goto("/ui/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_log_out_ends_the_session_even_for_a_copy_of_the_cookie(page, service):
    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    [cookie] = page.context.cookies()
    copy = requests.Session()
    copy.cookies.set(cookie["name"], cookie["value"])
    assert copy.get(service.base_url + "/ui/jobs", allow_redirects=False).status_code == 200
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/ui/jobs")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    answer = copy.get(service.base_url + "/ui/jobs", allow_redirects=False)
    assert answer.status_code == 302 and "/ui/login" in answer.headers["Location"]


def test_the_login_page_sends_only_to_this_ui(page, service):
    page.goto("/ui/login?next=https://elsewhere.example/steal")
    page.get_by_label("Password").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/$"))


def test_forms_without_the_csrf_token_are_refused(page, service):
    job = _job(service, "CSRF target")
    sign_in(page, TOKEN, f"/ui/jobs/{job['id']}")
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    # The browser's own session, but no token (as a form on another site would send).
    for form in ({}, {"csrf_token": "forged"}):
        answer = page.request.post(f"/ui/jobs/{job['id']}/disable", form=form, max_redirects=0)
        assert answer.status == 400, answer.status
        assert "CSRF" in answer.text()
    assert service.get(f"/api/jobs/{job['id']}", headers=AUTH).json()["is_enabled"] is True
    # The page's own form carries it.
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    assert service.get(f"/api/jobs/{job['id']}", headers=AUTH).json()["is_enabled"] is False


def test_the_session_cookie_opens_the_api_s_reads_only(page, service):
    sign_in(page, TOKEN)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert page.request.get("/api/me").json()["via"] == "session"
    assert page.request.get("/api/jobs").status == 200
    # A write needs a key: no other site can make a signed-in browser change anything.
    assert page.request.post("/api/jobs", data={"name": "x"}).status == 401
    # And the API takes no CSRF token: curl with the bearer token works as before.
    job = _job(service, "API without CSRF")
    assert service.post(f"/api/jobs/{job['id']}/disable", headers=AUTH).status_code == 200


def test_the_cookie_is_secure_when_the_service_is_reached_over_https(start_service):
    secure = start_service(
        {"CRONWELL_API_TOKEN": TOKEN, "CRONWELL_PUBLIC_URL": "https://cron.example.org"}
    )
    login = secure.get("/ui/login")
    assert login.status_code == 200
    cookie = login.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
