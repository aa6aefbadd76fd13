"""The audit log (one entry per change, none for a refusal), revisions and their restore,
and secrets kept from viewers, the log and the service's log file."""

import sqlite3

import requests

from tests.support import run_and_wait, wait_for
from tests.support.cli import cronwell
from tests.support.helpers import form_login

TOKEN = "audit-token-71c3"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN, "CRONWELL_LOG_LEVEL": "DEBUG"}
MASK = "••••••"


def _setup(service) -> None:
    service.http.headers.update(AUTH)


def entries(service, **filters) -> list[dict]:
    answer = service.get("/api/audit", params={"page_size": 1000, **filters})
    assert answer.status_code == 200, answer.text
    return answer.json()


def key(service, name: str, role: str) -> str:
    made = service.post("/api/keys", json={"name": name, "role": role})
    assert made.status_code == 201, made.text
    return made.json()["secret"]


def test_every_change_leaves_exactly_one_entry(service, target):
    _setup(service)
    job = "/api/jobs/audited"
    runs: dict[str, int] = {}

    def run_a_long_one():
        runs["id"] = service.post("/api/jobs/audited/run").json()["id"]

    def cancel_it():
        wait_for(lambda: service.get(f"{job}/executions/{runs['id']}").json()["status"]
                 == "running")  # fmt: skip
        assert service.post(f"{job}/executions/{runs['id']}/cancel").status_code == 202

    made: dict[str, int] = {}
    steps = [
        ("job.create", "job:audited", lambda: service.post("/api/jobs", json={
            "id": "audited", "name": "audited", "type": "shell", "schedule": "1h",
            "configuration": {"command": "sleep 30"}})),
        ("job.update", "job:audited", lambda: service.put(job, json={"name": "renamed"})),
        ("job.disable", "job:audited", lambda: service.post(f"{job}/disable")),
        ("job.enable", "job:audited", lambda: service.post(f"{job}/enable")),
        ("job.run", "job:audited", run_a_long_one),
        ("execution.cancel", "job:audited", cancel_it),
        ("job.delete", "job:audited", lambda: service.delete(job)),
        ("job.restore", "job:audited", lambda: service.post(f"{job}/restore")),
        ("key.create", None, lambda: made.update(
            key=service.post("/api/keys", json={"name": "k1", "role": "viewer"}).json()["id"])),
        ("key.revoke", None, lambda: service.delete(f"/api/keys/{made['key']}")),
        ("user.create", "user:ann", lambda: service.post("/api/users", json={
            "username": "ann", "role": "viewer", "password": "a" * 12})),
        ("user.update", "user:ann", lambda: service.patch("/api/users/ann",
                                                          json={"role": "operator"})),
        ("login", "user:ann", lambda: form_login(service, "ann", "a" * 12)),
        ("login.failed", "user:ann", lambda: form_login(service, "ann", "wrong" * 3)),
    ]  # fmt: skip
    for action, target_name, step in steps:
        before = len(entries(service))
        step()
        after = entries(service)
        assert len(after) == before + 1, (action, after[: len(after) - before])
        newest = after[0]
        assert newest["action"] == action
        if target_name:
            assert newest["target"] == target_name
        assert newest["remote_addr"] == "127.0.0.1"
        assert newest["source"] == ("ui" if action.startswith("login") else "api")
        assert newest["actor"] == {"login": "user:ann", "login.failed": "anonymous"}.get(
            action, "token"
        )
    assert entries(service, action="key.revoke")[0]["target"] == f"key:{made['key']}"
    assert entries(service, action="job.update")[0]["changes"] == {"name": ["audited", "renamed"]}
    assert entries(service, target="job:audited", action="job.run")[0]["changes"] == {
        "execution": [None, runs["id"]]
    }


def test_a_refused_change_leaves_no_entry(service):
    _setup(service)
    viewer = {"Authorization": f"Bearer {key(service, 'refused-viewer', 'viewer')}"}
    count = len(entries(service))
    bad = service.post("/api/jobs", json={"name": "x", "type": "http", "schedule": "nope"})
    assert bad.status_code == 422
    assert service.put("/api/jobs/no-such-job", json={"name": "y"}).status_code == 404
    assert service.post("/api/users", json={"username": "bob", "role": "viewer",
                                            "password": "short"}).status_code == 422  # fmt: skip
    refused = requests.post(service.base_url + "/api/jobs", headers=viewer, timeout=10,
                            json={"name": "x", "type": "http", "schedule": "1h",
                                  "configuration": {"url": "http://127.0.0.1:9/"}})  # fmt: skip
    assert refused.status_code == 403
    assert len(entries(service)) == count


def test_the_command_line_s_changes_read_source_cli(service, make_job):
    _setup(service)
    job = make_job()
    done = cronwell(service, "jobs", "disable", job["id"], token=TOKEN)
    assert done.returncode == 0, done.stderr
    newest = entries(service, target=f"job:{job['id']}")[0]
    assert (newest["action"], newest["source"]) == ("job.disable", "cli")
    shown = cronwell(service, "audit", "--target", f"job:{job['id']}", token=TOKEN)
    assert shown.returncode == 0 and "job.disable" in shown.stdout and "cli" in shown.stdout
    since = cronwell(service, "audit", "--since", "2999-01-01T00:00:00+00:00", token=TOKEN)
    assert since.returncode == 0 and "job.disable" not in since.stdout


def test_revisions_list_show_and_restore(service, make_job):
    _setup(service)
    job = make_job(name="first name", tags=["a"])
    path = f"/api/jobs/{job['id']}"
    service.put(path, json={"name": "second name", "tags": ["b"]})
    service.post(f"{path}/disable")
    service.post(f"{path}/run")  # a run is not a revision
    revisions = service.get(f"{path}/revisions").json()
    assert [r["revision"] for r in revisions] == [3, 2, 1]
    assert revisions[0]["changes"] == {"is_enabled": [True, False]}
    assert revisions[1]["changes"] == {
        "name": ["first name", "second name"],
        "tags": [["a"], ["b"]],
    }
    assert revisions[1]["actor"] == "token"
    first = service.get(f"{path}/revisions/1").json()
    assert first["definition"]["name"] == "first name" and first["definition"]["is_enabled"]
    assert service.get(f"{path}/revisions/9").status_code == 404
    viewer = {"Authorization": f"Bearer {key(service, 'rev-viewer', 'viewer')}"}
    restore = f"{service.base_url}{path}/revisions/1/restore"
    assert requests.post(restore, headers=viewer, timeout=10).status_code == 403
    restored = service.post(f"{path}/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    now = service.get(path).json()
    assert (now["name"], now["tags"], now["is_enabled"]) == ("first name", ["a"], True)
    newest = service.get(f"{path}/revisions").json()[0]
    assert newest["revision"] == 4
    assert newest["changes"]["name"] == ["second name", "first name"]
    assert entries(service, target=f"job:{job['id']}")[0]["action"] == "job.restore_revision"


def test_secrets_stay_from_viewers_the_audit_log_and_the_log_file(service, target):
    _setup(service)
    secrets = ("pw-SECRET-1", "hdr-SECRET-2", "env-SECRET-3", "tok-SECRET-4", "url-SECRET-5")
    hook = target.url("/hook?token=url-SECRET-5")
    http_job = service.post(
        "/api/jobs",
        json={
            "id": "secret-http",
            "name": "secret http",
            "type": "http",
            "schedule": "1h",
            "notify": {"on": ["failure"], "urls": [hook]},
            "configuration": {
                "url": target.url("/ok"),
                "auth": {"username": "u", "password": secrets[0]},
                "headers": {"X-Api-Key": secrets[1], "Accept": "text/plain"},
            },
        },
    )
    assert http_job.status_code == 201, http_job.text
    shell_job = service.post(
        "/api/jobs",
        json={
            "id": "secret-shell",
            "name": "secret shell",
            "type": "shell",
            "schedule": "1h",
            "configuration": {"command": "true", "env": {"DB_PASSWORD": secrets[2], "MODE": "x"}},
        },
    )
    assert shell_job.status_code == 201, shell_job.text
    service.put("/api/jobs/secret-http", json={"configuration": {
        "url": target.url("/ok"), "auth": {"username": "u", "password": secrets[0]},
        "headers": {"X-Api-Key": secrets[1], "X-Session-Token": secrets[3]}}})  # fmt: skip
    run_and_wait(service, "secret-http")
    run_and_wait(service, "secret-shell", json={"configuration": {"env": {
        "DB_PASSWORD": secrets[2]}}})  # fmt: skip
    viewer = requests.Session()
    viewer.headers["Authorization"] = f"Bearer {key(service, 'secret-viewer', 'viewer')}"
    operator = requests.Session()
    operator.headers["Authorization"] = f"Bearer {key(service, 'secret-op', 'operator')}"
    reads = [
        "/api/jobs", "/api/jobs/secret-http", "/api/jobs/secret-shell",
        "/api/jobs/secret-shell/executions", "/api/jobs/secret-http/revisions",
        "/api/jobs/secret-http/revisions/1", "/api/jobs/secret-http/revisions/2",
        "/api/audit", "/api/engine/cron", "/ui/jobs/secret-http", "/ui/jobs/secret-shell",
    ]  # fmt: skip
    for client in (viewer, operator):
        for path in reads:
            text = client.get(service.base_url + path, timeout=10).text
            assert not [s for s in secrets if s in text], path
    shown = viewer.get(service.base_url + "/api/jobs/secret-http", timeout=10).json()
    assert shown["configuration"]["auth"]["password"] == MASK
    assert shown["configuration"]["headers"] == {"X-Api-Key": MASK, "X-Session-Token": MASK}
    assert shown["notify"]["urls"] == [target.url("/hook?token=****")]
    assert not [s for s in secrets if s in service.get("/api/audit").text]
    # Admins see them, and a client that sends the mask back keeps the stored value.
    as_admin = service.get("/api/jobs/secret-http").json()
    assert as_admin["configuration"]["auth"]["password"] == secrets[0]
    assert as_admin["notify"]["urls"] == [hook]
    masked = shown["configuration"]
    assert service.put("/api/jobs/secret-http", json={"configuration": masked}).status_code == 200
    kept = service.get("/api/jobs/secret-http").json()["configuration"]
    assert kept["auth"]["password"] == secrets[0] and kept["headers"]["X-Api-Key"] == secrets[1]
    log = service.log_path.read_text(errors="replace")
    assert "secret-http" in log  # the runs were logged (at DEBUG), their secrets not
    assert not [s for s in secrets if s in log]


def test_entries_past_their_retention_are_pruned_by_the_leader(start_service):
    first = start_service({"CRONWELL_API_TOKEN": TOKEN, "CRONWELL_AUDIT_RETENTION_DAYS": "30"})
    first.http.headers.update(AUTH)
    for job_id in ("aged", "fresh"):
        made = first.post("/api/jobs", json={
            "id": job_id, "name": job_id, "type": "http", "schedule": "1h",
            "configuration": {"url": "http://127.0.0.1:9/"}})  # fmt: skip
        assert made.status_code == 201, made.text
    first.stop()
    with sqlite3.connect(first.db_path) as db:
        db.execute(
            "UPDATE audit_log SET at = datetime('now', '-31 days') WHERE target = 'job:aged'"
        )
    again = start_service(
        {"CRONWELL_API_TOKEN": TOKEN, "CRONWELL_AUDIT_RETENTION_DAYS": "30"},
        workdir=first.workdir,
    )
    again.http.headers.update(AUTH)
    wait_for(lambda: entries(again, target="job:aged") == [])
    assert [e["action"] for e in entries(again, target="job:fresh")] == ["job.create"]


def test_a_write_the_database_fails_logs_no_secret(service):
    """The error is logged (with its statement), never the values it carried: a real
    SQLite trigger makes the create's INSERT fail as a wrong statement would."""
    _setup(service)
    secret = "hdr-SECRET-in-a-failed-write"
    with sqlite3.connect(service.db_path) as db:
        db.execute(
            "CREATE TRIGGER fail_for_the_test BEFORE INSERT ON jobs WHEN NEW.id = 'db-refused' "
            "BEGIN SELECT * FROM missing_for_the_test; END"
        )
    try:
        made = service.post(
            "/api/jobs",
            json={
                "id": "db-refused",
                "name": "refused by the database",
                "type": "http",
                "schedule": "1h",
                "configuration": {"url": "http://127.0.0.1:9/", "headers": {"X-Token": secret}},
            },
        )
    finally:
        with sqlite3.connect(service.db_path) as db:
            db.execute("DROP TRIGGER fail_for_the_test")
    assert made.status_code == 500 and secret not in made.text, made.text
    log = wait_for(
        lambda: (
            (text := service.log_path.read_text(errors="replace"))
            and "missing_for_the_test" in text
            and text
        )
    )
    assert "INSERT INTO jobs" in log and secret not in log
