"""The http type's options: expected_status, basic auth, proxies, redirects, and the
allow-list checked on every redirect hop (this module's service allows 127.0.0.1 only)."""

import base64

import pytest

from tests.support import Target, run_and_wait

SERVICE_ENV = {"CRONWELL_HTTP_ALLOWED_HOSTS": '["127.0.0.1"]'}


def _arrived(target: Target, path: str) -> list[dict]:
    """The requests for exactly ``path`` (not those that name it, as a redirect's does)."""
    return [hit for hit in target.hits_for(path) if hit["path"] == path]


@pytest.fixture(scope="module")
def proxy():
    """A second local server that answers as a proxy (it records the absolute URLs)."""
    server = Target()
    yield server
    server.close()


@pytest.mark.parametrize("expected", [404, [200, 404]])
def test_expected_status_is_one_code_or_a_list(service, make_job, target, expected):
    job = make_job(configuration={"url": target.url("/status/404"), "expected_status": expected})
    assert job["configuration"]["expected_status"] == (
        expected if isinstance(expected, list) else [expected]
    )
    assert run_and_wait(service, job["id"])["status"] == "success"


def test_a_status_not_expected_fails_the_run(service, make_job, target):
    job = make_job(configuration={"url": target.url("/status/200"), "expected_status": 204})
    row = run_and_wait(service, job["id"])
    assert row["status"] == "failed" and row["error"] == "Unexpected HTTP status 200.", row


def test_basic_auth_is_sent(service, make_job, target):
    auth = {"username": "ops", "password": "s3cret:x"}
    job = make_job(configuration={"url": target.url("/ok?basic-auth"), "auth": auth})
    assert run_and_wait(service, job["id"])["status"] == "success"
    sent = target.hits_for("basic-auth")[-1]["headers"]["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"ops:s3cret:x").decode()


def test_a_job_s_proxy_carries_its_call(service, make_job, target, proxy):
    url = target.url("/ok?through-proxy")
    job = make_job(configuration={"url": url, "proxy": f"http://127.0.0.1:{proxy.port}"})
    assert run_and_wait(service, job["id"])["status"] == "success"
    assert [hit["path"] for hit in proxy.hits_for("through-proxy")] == [url]
    assert not target.hits_for("through-proxy")


def test_the_environment_s_proxy_is_used_except_for_no_proxy_hosts(start_service, target, proxy):
    service = start_service(
        {"HTTP_PROXY": f"http://127.0.0.1:{proxy.port}", "NO_PROXY": "localhost"}
    )
    via_proxy = target.url("/ok?env-proxy")
    direct = f"http://localhost:{target.port}/ok?no-proxy"
    for job_id, url in (("env-proxied", via_proxy), ("env-direct", direct)):
        body = {"id": job_id, "name": job_id, "type": "http", "schedule": "1h"}
        response = service.post("/api/jobs", json={**body, "configuration": {"url": url}})
        assert response.status_code == 201, response.text
        assert run_and_wait(service, job_id)["status"] == "success"
    assert [hit["path"] for hit in proxy.hits_for("env-proxy")] == [via_proxy]
    assert target.hits_for("no-proxy") and not proxy.hits_for("no-proxy")


def test_a_redirect_is_the_answer_unless_followed(service, make_job, target):
    to = target.url("/ok?redirected")
    redirect = target.url(f"/redirect?to={to}")
    job = make_job(configuration={"url": redirect})
    row = run_and_wait(service, job["id"])
    assert row["status"] == "failed" and row["result"] == {"status_code": 302}, row
    assert not _arrived(target, "/ok?redirected")
    job = make_job(configuration={"url": redirect, "follow_redirects": True})
    row = run_and_wait(service, job["id"])
    assert row["status"] == "success", row
    assert row["result"] == {"status_code": 200, "url": to}, row
    assert len(_arrived(target, "/ok?redirected")) == 1


def test_a_redirect_to_a_host_not_allowed_is_refused(service, make_job, target):
    elsewhere = f"http://localhost:{target.port}/ok?not-allowed"
    job = make_job(
        configuration={"url": target.url(f"/redirect?to={elsewhere}"), "follow_redirects": True}
    )
    row = run_and_wait(service, job["id"])
    assert row["status"] == "failed", row
    assert "not in CRONWELL_HTTP_ALLOWED_HOSTS" in row["error"], row
    assert not _arrived(target, "/ok?not-allowed")


@pytest.mark.parametrize(
    ("configuration", "field"),
    [
        ({"expected_status": 600}, "configuration.expected_status"),
        ({"expected_status": []}, "configuration.expected_status"),
        ({"expected_status": "200"}, "configuration.expected_status"),
        ({"proxy": "socks://127.0.0.1:1080"}, "configuration.proxy"),
        ({"auth": {"username": "a:b", "password": "x"}}, "configuration.auth.username"),
        ({"auth": {"username": "a"}}, "configuration.auth.password"),
        ({"follow_redirects": "sometimes"}, "configuration.follow_redirects"),
        ({"url": "http://localhost:9/"}, "configuration.url"),
    ],
)
def test_bad_options_are_refused_at_save_naming_the_field(service, configuration, field):
    body = {"name": "bad option", "type": "http", "schedule": "1h"}
    response = service.post(
        "/api/jobs", json={**body, "configuration": {"url": "http://127.0.0.1:9/", **configuration}}
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"], response.text
