"""Ways in: open until the first key or user, users' sessions (a role change or a disable
takes effect on the next request), a trusted proxy's header, and 429 after 10 wrong
credentials from one address."""

from tests.support import wait_for
from tests.support.helpers import form_login

TOKEN = "sign-in-token-0b7a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_open_until_the_first_user_says_so_at_start(start_service):
    service = start_service()
    assert "The service is open" in wait_for(lambda: service.log() or None)
    assert service.get("/api/me").json() == {
        "actor": "anonymous", "name": "anonymous", "role": "admin", "via": "open"
    }  # fmt: skip
    made = service.post("/api/users", json={"username": "first", "role": "admin",
                                            "password": "first-admin-pw"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert service.get("/api/jobs").status_code == 401
    assert service.get("/metrics").status_code == 401
    assert service.get("/ui/", allow_redirects=False).status_code == 302
    assert service.get("/healthz").status_code == 200
    client, status = form_login(service, "first", "first-admin-pw")
    assert status == 302
    assert client.get(service.base_url + "/api/me").json()["actor"] == "user:first"


def test_a_user_s_role_and_disable_take_effect_on_the_next_request(start_service):
    service = start_service({"CRONWELL_API_TOKEN": TOKEN})
    service.http.headers.update(AUTH)
    service.post("/api/users", json={"username": "carol", "role": "viewer",
                                     "password": "carol-password"})  # fmt: skip
    client, status = form_login(service, "carol", "carol-password")
    assert status == 302
    me = client.get(service.base_url + "/api/me").json()
    assert me == {"actor": "user:carol", "name": "carol", "role": "viewer", "via": "session"}
    assert client.get(service.base_url + "/ui/jobs/new").status_code == 403
    assert service.patch("/api/users/carol", json={"role": "admin"}).status_code == 200
    assert client.get(service.base_url + "/api/me").json()["role"] == "admin"
    assert client.get(service.base_url + "/ui/jobs/new").status_code == 200
    assert service.delete("/api/users/carol").status_code == 204
    assert client.get(service.base_url + "/api/me").status_code == 401
    assert client.get(service.base_url + "/ui/", allow_redirects=False).status_code == 302
    assert form_login(service, "carol", "carol-password")[1] == 401
    listed = {u["username"]: u for u in service.get("/api/users").json()}
    assert listed["carol"]["disabled"] is True and "password" not in listed["carol"]


def test_a_trusted_proxy_names_the_user(start_service):
    service = start_service(
        {"CRONWELL_API_TOKEN": TOKEN, "CRONWELL_AUTH_PROXY_HEADER": "X-Forwarded-User"}
    )
    named = {"X-Forwarded-User": "dave"}
    me = service.get("/api/me", headers=named).json()
    assert me == {"actor": "proxy:dave", "name": "dave", "role": "viewer", "via": "proxy"}
    assert service.post("/api/jobs/x/run", headers=named).status_code == 403
    users = {u["username"]: u for u in service.get("/api/users", headers=AUTH).json()}
    assert users["dave"]["role"] == "viewer" and users["dave"]["has_password"] is False
    service.patch("/api/users/dave", headers=AUTH, json={"role": "operator"})
    assert service.get("/api/me", headers=named).json()["role"] == "operator"
    assert service.get("/ui/", headers=named).status_code == 200  # no login page
    service.delete("/api/users/dave", headers=AUTH)
    assert service.get("/api/me", headers=named).status_code == 401


def test_the_proxy_header_is_ignored_from_any_other_address(start_service):
    # The proxy's address is checked on the connection itself: X-Forwarded-For from a
    # trusted reverse proxy cannot claim it.
    service = start_service({
        "CRONWELL_API_TOKEN": TOKEN,
        "CRONWELL_AUTH_PROXY_HEADER": "X-Forwarded-User",
        "CRONWELL_AUTH_PROXY_TRUSTED": '["203.0.113.9/32"]',
        "CRONWELL_TRUSTED_PROXIES": '["127.0.0.1/32"]',
    })  # fmt: skip
    spoofed = {"X-Forwarded-User": "mallory", "X-Forwarded-For": "203.0.113.9"}
    assert service.get("/api/me", headers=spoofed).status_code == 401
    assert service.get("/ui/", headers=spoofed, allow_redirects=False).status_code == 302
    assert "mallory" not in service.get("/api/users", headers=AUTH).text


def test_ten_wrong_credentials_then_429_on_the_api_and_the_login_form(start_service):
    service = start_service({"CRONWELL_API_TOKEN": TOKEN})
    for attempt in range(10):
        wrong = service.get("/api/jobs", headers={"Authorization": f"Bearer wrong-{attempt}"})
        assert wrong.status_code == 401, attempt
    refused = service.get("/api/jobs", headers=AUTH)  # even the right one, for now
    assert refused.status_code == 429
    assert refused.json()["code"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    _, status = form_login(service, "", TOKEN)
    assert status == 429
    # Without credentials nothing is counted: /healthz and the login page still answer.
    assert service.get("/healthz").status_code == 200
    assert service.get("/ui/login").status_code == 200


def test_wrong_passwords_count_too(start_service):
    service = start_service({"CRONWELL_API_TOKEN": TOKEN})
    for attempt in range(10):
        assert form_login(service, "nobody", f"wrong-{attempt}")[1] == 401, attempt
    assert form_login(service, "", TOKEN)[1] == 429
    assert service.get("/api/jobs", headers=AUTH).status_code == 429
