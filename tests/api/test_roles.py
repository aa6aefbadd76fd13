"""Every route of the app's URL map, called by every kind of caller: viewer, operator and
admin keys, nobody, a revoked key and an expired key. A route added later is called too,
and needs what a route of its kind needs unless this table says otherwise."""

import datetime as dt
import re
import time

import pytest
import requests

from app import create_app
from tests.support import run_and_wait

TOKEN = "roles-token-8d2e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVICE_ENV = {
    "CRONWELL_API_TOKEN": TOKEN,
    # Revoked and expired keys are tried on every route: more than the limit allows.
    "CRONWELL_AUTH_FAILURES_PER_MINUTE": "100000",
    "CRONWELL_SHELL_JOBS_ENABLED": "false",
}
ROLES = ("viewer", "operator", "admin")
#: Open to anyone.
OPEN = {
    "/", "/healthz", "/favicon.ico", "/ui/login", "/ui/logout", "/static/<path:filename>",
    "/ui/static/<path:filename>", "/docs/assets/<path:filename>",
    # A heartbeat monitor's ping URL is its own secret.
    "/ping/<uuid:key>", "/ping/<uuid:key>/start", "/ping/<uuid:key>/fail",
    "/ping/<uuid:key>/<int:code>",
}  # fmt: skip
#: What an operator may do beyond reading.
OPERATOR = {
    ("POST", "/api/jobs/<string:job_id>/run"),
    ("POST", "/api/jobs/<string:job_id>/enable"),
    ("POST", "/api/jobs/<string:job_id>/disable"),
    ("POST", "/api/jobs/<string:job_id>/executions/<int:execution_id>/cancel"),
    ("POST", "/api/engine/cron/<string:job_id>/trigger"),
    ("POST", "/ui/jobs/<job_id>/run"),
    ("POST", "/ui/jobs/<job_id>/enable"),
    ("POST", "/ui/jobs/<job_id>/disable"),
    ("POST", "/ui/jobs/<job_id>/executions/<int:execution_id>/cancel"),
    ("POST", "/ui/jobs/<job_id>/executions/<int:execution_id>/retry"),
    ("POST", "/ui/jobs/bulk"),
    ("POST", "/api/jobs/<string:job_id>/backfill"),
    ("POST", "/api/jobs/<string:job_id>/backfills/<int:backfill_id>/cancel"),
    ("POST", "/api/scheduler/pause"),
    ("POST", "/api/scheduler/resume"),
    ("POST", "/ui/scheduler/pause"),
    ("POST", "/ui/scheduler/resume"),
}
#: Writes that only read (a viewer may).
VIEWER_WRITES = {("POST", "/api/schedules/preview")}
#: Reads only admins may make (keys, users, and the forms that change jobs).
ADMIN_READS = {
    ("GET", "/api/keys"),
    ("GET", "/api/users"),
    ("GET", "/ui/jobs/new"),
    ("GET", "/ui/jobs/<job_id>/edit"),
    ("GET", "/ui/jobs/<job_id>/delete"),
}


def needed(method: str, rule: str) -> str:
    if (method, rule) in OPERATOR:
        return "operator"
    if (method, rule) in ADMIN_READS:
        return "admin"
    if method == "GET" or (method, rule) in VIEWER_WRITES:
        return "viewer"
    return "admin"


def url_map(tmp_path_factory) -> list[tuple[str, str]]:
    """(method, rule) of every route of the app."""
    db = tmp_path_factory.mktemp("urlmap") / "map.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{db}", "SCHEDULER_AUTOSTART": False})
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


@pytest.fixture(scope="module")
def world(service):
    """Keys of each role (and a revoked and an expired one), a job with a run, a user."""
    service.http.headers.update(AUTH)

    def key(name, role, **extra):
        made = service.post("/api/keys", json={"name": name, "role": role, **extra})
        assert made.status_code == 201, made.text
        return made.json()

    keys = {role: key(role, role)["secret"] for role in ROLES}
    revoked = key("revoked", "admin")
    assert service.delete(f"/api/keys/{revoked['id']}").status_code == 204
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    expired = key("expired", "admin", expires_at=soon.isoformat())["secret"]
    spare = key("spare", "viewer")
    job = service.post(
        "/api/jobs",
        json={"id": "roles-job", "name": "roles", "type": "http", "schedule": "1h",
              "configuration": {"url": "http://127.0.0.1:9/"}},
    ).json()  # fmt: skip
    run = run_and_wait(service, job["id"])
    made = service.post(
        "/api/users", json={"username": "spare-user", "role": "viewer", "password": "x" * 12}
    )
    assert made.status_code == 201, made.text
    time.sleep(max(0.0, (soon - dt.datetime.now(dt.UTC)).total_seconds() + 0.2))
    credentials = {
        "none": None,
        "revoked key": revoked["secret"],
        "expired key": expired,
        **{role: keys[role] for role in ROLES},
    }
    values = {
        "job_id": job["id"], "execution_id": str(run["id"]), "key_id": str(spare["id"]),
        "username": "spare-user", "number": "1", "filename": "cronwell.css",
        "unknown": "nowhere", "backfill_id": "1", "calendar_id": "nowhere",
        "key": "00000000-0000-4000-8000-000000000000", "code": "1",
    }  # fmt: skip
    return credentials, values


def filled(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


def test_every_route_answers_each_caller_as_its_role_allows(service, world, tmp_path_factory):
    credentials, values = world
    routes = url_map(tmp_path_factory)
    assert len(routes) > 40
    checked = 0
    for caller in ("none", "revoked key", "expired key", *ROLES):  # admin last: it deletes
        secret = credentials[caller]
        for method, rule in routes:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            body = {"json": {}} if rule.startswith("/api") and method != "GET" else {}
            answer = requests.request(
                method, service.base_url + filled(rule, values), headers=headers,
                allow_redirects=False, timeout=30, **body,
            )  # fmt: skip
            where = f"{caller}: {method} {rule} -> {answer.status_code} {answer.text[:200]}"
            assert answer.status_code < 500, where
            checked += 1
            if rule in OPEN:
                assert answer.status_code not in (401, 403), where
                continue
            if caller == "none" and rule.startswith(("/ui", "/docs")):
                assert answer.status_code == 302, where
                assert "/ui/login" in answer.headers["Location"], where
            elif caller in ("none", "revoked key", "expired key"):
                assert answer.status_code == 401, where
                assert answer.json()["code"] == 401, where
            elif ROLES.index(caller) < ROLES.index(needed(method, rule)):
                assert answer.status_code == 403, where
                if rule.startswith("/api") or rule == "/metrics":
                    assert f"the {needed(method, rule)} role" in answer.json()["message"], where
            else:
                assert answer.status_code not in (401, 403), where
    assert checked == len(routes) * 6


def test_me_says_who_is_calling(service, world):
    credentials, _ = world
    for role in ROLES:
        me = requests.get(
            service.base_url + "/api/me",
            headers={"Authorization": f"Bearer {credentials[role]}"},
            timeout=10,
        ).json()
        assert me == {"actor": f"key:{role}", "name": role, "role": role, "via": "key"}
    assert service.get("/api/me").json() == {
        "actor": "token", "name": "token", "role": "admin", "via": "token"
    }  # fmt: skip


def test_keys_are_listed_by_prefix_with_their_last_use_and_never_their_secret(service, world):
    credentials, _ = world
    listed = service.get("/api/keys").json()
    assert {k["name"] for k in listed} >= {"viewer", "operator", "admin", "revoked", "expired"}
    viewer = next(k for k in listed if k["name"] == "viewer")
    assert credentials["viewer"].startswith(viewer["prefix"]) and len(viewer["prefix"]) == 8
    assert viewer["last_used_at"] is not None and viewer["created_by"] == "token"
    assert all("secret" not in k for k in listed)
    assert not any(credentials[role] in service.get("/api/keys").text for role in ROLES)
