"""What every answer says about itself (CSP with no inline script and no framing,
nosniff, Referrer-Policy), a framing page that shows nothing, forwarded headers believed
only from a trusted proxy, the session's lifetime, and /docs with a token set."""

from __future__ import annotations

import email.utils
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from playwright.sync_api import expect

from tests.support import free_port
from tests.support.browser import sign_in

TOKEN = "hdr-token-31a"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _signed_in_http(service, **headers) -> requests.Response:
    """A sign-in over plain HTTP calls (the login form and its CSRF token)."""
    client = requests.Session()
    form = client.get(service.base_url + "/ui/login", headers=headers)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post(
        service.base_url + "/ui/login",
        data={"password": TOKEN, "csrf_token": csrf, "next": "/ui/"},
        headers=headers,
        allow_redirects=False,
    )


def test_every_answer_carries_the_headers(service):
    for path, headers in (
        ("/ui/login", {}),
        ("/api/jobs", AUTH),
        ("/healthz", {}),
        ("/docs", {}),
    ):
        answer = service.get(path, headers=headers, allow_redirects=False)
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert service.get("/favicon.ico").headers["Content-Type"].startswith("image/svg+xml")


def _framing_page(frame_url: str) -> tuple[ThreadingHTTPServer, str]:
    """Another site (another port) whose page frames ``frame_url``."""
    body = f'<!doctype html><title>framer</title><iframe src="{frame_url}"></iframe>'.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_page_that_frames_the_ui_shows_nothing_of_it(browser, service):
    job = service.post(
        "/api/jobs",
        json={"name": "framed", "type": "shell", "schedule": "1h",
              "configuration": {"command": "true"}},
        headers=AUTH,
    ).json()  # fmt: skip
    context = browser.new_context()
    try:
        tab = context.new_page()
        sign_in(tab, TOKEN, service.base_url + "/ui/")  # signed in: the cookie is there
        framer, url = _framing_page(f"{service.base_url}/ui/jobs/{job['id']}")
        try:
            tab.goto(url)
            time.sleep(1)
            [frame] = [f for f in tab.frames if f != tab.main_frame]
            assert frame.url == "chrome-error://chromewebdata/" or "Run now" not in (
                frame.content()
            )
            assert tab.frame_locator("iframe").get_by_role("button", name="Run now").count() == 0
        finally:
            framer.shutdown()
    finally:
        context.close()
    assert service.get(f"/api/jobs/{job['id']}/executions", headers=AUTH).json() == []


def _cookie_flags(answer: requests.Response) -> str:
    return answer.headers["Set-Cookie"].lower()


def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(service, start_service):
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    assert "secure" not in _cookie_flags(_signed_in_http(service, **https))
    proxied = start_service({**SERVICE_ENV, "CRONWELL_TRUSTED_PROXIES": '["127.0.0.0/8"]'})
    assert "secure" in _cookie_flags(_signed_in_http(proxied, **https))
    assert "secure" not in _cookie_flags(_signed_in_http(proxied))


def test_a_session_lasts_session_hours(service, start_service):
    def hours_left(answer: requests.Response) -> float:
        expires = re.search(r"expires=([^;]+)", answer.headers["Set-Cookie"], re.I).group(1)
        return (email.utils.parsedate_to_datetime(expires).timestamp() - time.time()) / 3600

    assert 11.9 < hours_left(_signed_in_http(service)) <= 12
    short = start_service({**SERVICE_ENV, "CRONWELL_SESSION_HOURS": "1"})
    assert 0.9 < hours_left(_signed_in_http(short)) <= 1


def test_the_api_docs_work_signed_in_with_a_token(page, service):
    page.goto("/docs")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/docs"))
    page.get_by_label("Password").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/docs$"))
    expect(page.locator(".opblock").first).to_be_visible()  # the spec loaded
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    page.get_by_role("link", name="Back to Cronwell").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # The spec still needs the token without a session.
    assert service.get("/api/openapi.json").status_code == 401
