"""cronwell keys, users and audit, against a real service."""

import json
import subprocess

from tests.support.cli import CRONWELL, cronwell

TOKEN = "cli-access-token-93ab"
SERVICE_ENV = {"CRONWELL_API_TOKEN": TOKEN}


def run(service, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    return cronwell(service, *args, token=token)


def test_keys_create_prints_the_secret_once_and_revoke_ends_it(service):
    made = run(service, "keys", "create", "deploy", "--role", "operator")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("cw_") and "\n" not in secret
    assert made.stdout == secret + "\n" and "only its hash" in made.stderr
    me = service.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json()
    assert (me["actor"], me["role"]) == ("key:deploy", "operator")
    listed = run(service, "keys", "list")
    assert listed.returncode == 0 and secret[:8] in listed.stdout and secret not in listed.stdout
    key_id = next(k["id"] for k in service.get("/api/keys", headers={
        "Authorization": f"Bearer {TOKEN}"}).json() if k["name"] == "deploy")  # fmt: skip
    as_operator = run(service, "keys", "list", token=secret)
    assert as_operator.returncode == 1 and "admin role" in as_operator.stderr
    assert run(service, "keys", "revoke", str(key_id)).returncode == 0
    assert service.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    bad = run(service, "keys", "create", "x", "--role", "root")
    assert bad.returncode == 2


def test_users_add_from_stdin_set_role_disable(service):
    added = subprocess.run(
        [str(CRONWELL), "--url", service.base_url, "--token", TOKEN,
         "users", "add", "erin", "--role", "viewer", "--password-stdin"],
        input="erin-password-1\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    short = subprocess.run(
        [str(CRONWELL), "--url", service.base_url, "--token", TOKEN,
         "users", "add", "frank", "--role", "viewer", "--password-stdin"],
        input="short\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert short.returncode == 1 and "password" in short.stderr
    assert run(service, "users", "set-role", "erin", "operator").returncode == 0
    listed = run(service, "users", "list")
    assert listed.returncode == 0
    line = next(row for row in listed.stdout.splitlines() if row.startswith("erin"))
    assert "operator" in line and "active" in line and "password" in line
    assert run(service, "users", "disable", "erin").returncode == 0
    assert "disabled" in run(service, "users", "list").stdout
    audit = run(service, "audit", "--target", "user:erin", "--json")
    assert [e["action"] for e in json.loads(audit.stdout)] == [
        "user.update", "user.update", "user.create"
    ]  # fmt: skip
    assert run(service, "users", "disable", "nobody").returncode == 1
