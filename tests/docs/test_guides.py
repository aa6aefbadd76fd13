"""Every command the README and the guides show works as written (only the port, and the
placeholders a guide names, are changed), against a real service."""

import json
import os
import re
import shutil
import subprocess
import textwrap

import pytest
import requests

from tests.support import ROOT, wait_for
from tests.support.cli import CRONWELL
from tests.support.guides import DOCS, MakeRun, commands, curl, fenced, local

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
README = ROOT / "README.md"
TOUR = ("<!-- tour:start -->", "<!-- tour:end -->")
WALKTHROUGH = ("<!-- walkthrough:start -->", "<!-- walkthrough:end -->")
WORKFLOWS = ("<!-- workflows:start -->", "<!-- workflows:end -->")
#: Guides whose commands a test here runs; `make test` (the README's) is what runs them.
TESTED = {
    "README.md", "getting-started.md", "jobs.md", "cli.md", "operations.md", "running.md",
    "security.md", "job-types.md",
}  # fmt: skip


def test_every_guide_with_commands_has_its_test():
    with_commands = {p.name for p in [README, *DOCS.glob("*.md")] if commands(p)}
    assert with_commands == TESTED


def test_the_readme_is_short_and_its_tour_runs(start_service, tmp_path):
    assert len(README.read_text().splitlines()) <= 300
    tour = commands(README, TOUR)
    assert 5 <= len(tour) <= 10
    service = start_service()
    for command in tour:
        status, body = curl(command, service.port)
        assert status < 400, (command, status, body)
    job = service.get("/api/jobs/tour").json()
    assert job["is_enabled"] is False and service.executions("tour")
    # The two commands: `make run` serves (make test is what runs this).
    assert commands(README)[:2] == [
        "make run    # sets up .venv, brings the database to the latest schema, serves "
        "http://127.0.0.1:8000",
        "make test   # sets up .venv (and PostgreSQL, Chromium, promtool when root) and "
        "runs the whole suite",
    ]
    served = MakeRun("make run", tmp_path, {"CRONWELL_DATABASE_URL": f"sqlite:///{tmp_path}/r.db"})
    try:
        served.wait_healthy()
        assert requests.get(f"{served.base_url}/api/jobs", timeout=5).json() == []
    finally:
        served.stop()


def test_getting_started(start_service):
    guide = DOCS / "getting-started.md"
    walkthrough = commands(guide, WALKTHROUGH)
    assert len(walkthrough) >= 14
    service = start_service()
    seen: dict[str, tuple[int, str]] = {}
    for command in walkthrough:
        if command.endswith("/api/jobs/hello/executions"):
            # "After 10 seconds": wait for the first scheduled run to finish instead of
            # sleeping (its row is listed, queued, up to a second before it runs).
            wait_for(lambda: service.executions("hello", status="success"), timeout=15)
        if command.endswith("/executions/1"):
            wait_for(lambda: service.executions("hello")[-1]["status"] == "success", timeout=5)
        status, body = curl(command, service.port)
        assert status < 400, (command, status, body)
        seen[command] = (status, body)

    def find(fragment: str) -> tuple[int, str]:
        return next(v for k, v in seen.items() if fragment in k)

    created = json.loads(find("-X POST http://127.0.0.1:8000/api/jobs -H")[1])
    assert created["id"] == "hello" and created["next_run_at"]
    executions = json.loads(find("/api/jobs/hello/executions")[1])
    assert executions[0]["result"] == {"status_code": 200}
    assert find("/run")[0] == 202
    assert json.loads(find("/disable")[1])["next_run_at"] is None
    assert json.loads(find("/enable")[1])["next_run_at"] is not None
    assert re.search(r"X-Pagination: .*\"total\": 1", find("curl -si")[1])
    assert find("-X DELETE")[0] == 204
    deleted = json.loads(find("include_deleted=true")[1])
    assert deleted[0]["id"] == "hello" and deleted[0]["deleted_at"]
    restored = json.loads(find("/restore")[1])
    assert restored["deleted_at"] is None and restored["next_run_at"]
    assert len(service.executions("hello")) >= 2, "history kept through delete and restore"
    assert len(json.loads(find("/api/schedules/preview")[1])["next_run_times"]) == 3
    health = next(v for k, v in seen.items() if k.endswith("/healthz"))
    assert json.loads(health[1])["status"] == "ok"

    cancel, idempotent = [c for c in commands(guide) if c not in walkthrough]
    newest = service.executions("hello")[0]["id"]
    status, body = curl(cancel.replace("/executions/7/", f"/executions/{newest}/"), service.port)
    assert status in (200, 409), body  # a finished run answers 409
    first, again = curl(idempotent, service.port), curl(idempotent, service.port)
    assert (first[0], again[0]) == (202, 200)
    assert json.loads(first[1])["id"] == json.loads(again[1])["id"]


def test_jobs_schedules_and_types(start_service):
    guide = DOCS / "jobs.md"
    service = start_service()
    created = service.post(
        "/api/jobs",
        json={"id": "hello", "name": "Hello", "type": "http", "schedule": "10s",
              "configuration": {"url": f"{service.base_url}/healthz"}},
    )  # fmt: skip
    assert created.status_code == 201
    workflows = commands(guide, WORKFLOWS)
    assert len(workflows) >= 6
    for command in workflows:
        status, body = curl(command, service.port)
        assert status < 400, (command, status, body)
    hello = service.get("/api/jobs/hello").json()
    assert hello["tags"] == ["health", "team:ops"] and hello["on_success"] == ["hello-after"]
    assert hello["jitter_seconds"] == 30
    wait_for(lambda: [e for e in service.executions("hello-after") if e["trigger"] == "chain"])

    cron_api = [c for c in commands(guide) if c not in workflows]
    assert len(cron_api) == 8
    status, body = curl(cron_api[0], service.port)
    assert status == 201, body
    job_id = json.loads(body)["id"]
    for command in cron_api[1:]:
        status, body = curl(command.replace("<job_id>", job_id), service.port)
        assert status < 400, (command, status, body)
    assert service.get(f"/api/jobs/{job_id}").status_code == 404  # the last one deletes it


def test_the_command_line(start_service, tmp_path):
    guide = DOCS / "cli.md"
    service = start_service()
    service.post(
        "/api/jobs",
        # overlap "allow": a fire that comes while the guide runs it by hand must not 409
        json={"id": "hello", "name": "Hello", "type": "http", "schedule": "10s",
              "overlap_policy": "allow", "tags": ["team:ops"],
              "configuration": {"url": f"{service.base_url}/healthz"}},
    )  # fmt: skip
    (tmp_path / "jobs.yaml").write_text(fenced(guide, "yaml")[0])
    lines = [line.split("  #")[0].strip() for line in commands(guide)]
    assert len(lines) >= 9
    cronwell = f"{CRONWELL} --url {service.base_url}"
    for line in lines:
        assert line.startswith(".venv/bin/cronwell ")
        command = line.replace(".venv/bin/cronwell", cronwell, 1)
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    assert service.get("/api/jobs/nightly-report").status_code == 404  # --dry-run
    applied = subprocess.run(
        ["bash", "-c", f"{cronwell} apply -f jobs.yaml"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert applied.stdout.splitlines() == ["create nightly-report", "create publish-report"]
    assert service.get("/api/jobs/nightly-report").json()["on_success"] == ["publish-report"]
    assert "id: hello" in (tmp_path / "ops.yaml").read_text()
    # The guide paused the service and resumed it.
    assert service.get("/api/scheduler").json()["paused"] is False
    audit = service.get("/api/audit", params={"target": "scheduler"}).json()
    assert [e["action"] for e in audit] == ["scheduler.resume", "scheduler.pause"]


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (make test installs Debian's prometheus as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run this test")
        pytest.skip(message)
    return found


def test_operations_metrics_alerts_and_notifications(start_service, target, tmp_path):
    guide = DOCS / "operations.md"
    _promtool()
    service = start_service()
    service.post(
        "/api/jobs",
        json={"id": "hello", "name": "Hello", "type": "http", "schedule": "1h",
              "configuration": {"url": target.url("/status/500")}},
    )  # fmt: skip
    receiver = target.url("/hook/guide")
    ran = commands(guide)
    promtool = [c for c in ran if "promtool" in c]
    monitor = [c for c in ran if "heartbeat" in c or "/ping/" in c]
    notify, test_url = [c for c in ran if c not in promtool and c not in monitor]
    for command in (notify, test_url):
        status, body = curl(
            command.replace("https://hooks.example.org/cron", receiver), service.port
        )
        assert status == 200, (command, body)
    assert service.get("/api/jobs/hello").json()["notify"]["urls"] == [receiver]
    assert target.hits_for("/hook/guide"), "the test message came"
    # The scrape configuration and the alert rules, where the guide puts them.
    (tmp_path / "prometheus.yml").write_text(
        fenced(guide, "yaml", ("<!-- scrape:start -->", "<!-- scrape:end -->"))[0]
    )
    (tmp_path / "cronwell-rules.yml").write_text(
        fenced(guide, "yaml", ("<!-- rules:start -->", "<!-- rules:end -->"))[0]
    )
    service.post("/api/jobs/hello/run")  # a failure in the figures
    wait_for(lambda: service.executions("hello", status="failed"), timeout=10)
    assert len(promtool) == 3
    # A heartbeat monitor made and pinged as the guide shows it.
    create, start, end = monitor
    status, body = curl(create, service.port)
    assert status == 201, body
    ping_url = json.loads(body)["ping_url"]
    for command in (start, end):
        status, body = curl(command.replace("https://cron.example.com/ping/<uuid>", ping_url),
                            service.port)  # fmt: skip
        assert (status, body) == (200, "OK"), command
    [run] = service.executions("nightly-backup")
    assert (run["status"], run["result"], run["output"]) == (
        "success", {"exit_code": 0}, "copied 3 files\n")  # fmt: skip
    for command in promtool:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", local(command, service.port)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "SUCCESS" in done.stdout + done.stderr or "check metrics" in command


def test_running_on_postgresql(postgres, tmp_path):
    (command,) = commands(DOCS / "running.md")
    url = "postgresql+psycopg://cronwell:secret@db.internal/cronwell"
    assert url in command and command.endswith("make run")
    # The test's own database, and a loopback address (the guide binds every interface).
    local_command = command.replace(url, postgres.new_database()).replace(
        "CRONWELL_HOST=0.0.0.0", "CRONWELL_HOST=127.0.0.1"
    )
    served = MakeRun(local_command, tmp_path)
    try:
        served.wait_healthy()
        assert requests.get(f"{served.base_url}/api/jobs", timeout=5).status_code == 401
        token = {"Authorization": "Bearer ..."}  # the guide's token, as written
        answer = requests.get(f"{served.base_url}/api/scheduler", headers=token, timeout=5)
        assert answer.status_code == 200 and answer.json()["this_process_leads"] is not None
    finally:
        served.stop()


TEAMS = ("<!-- teams:start -->", "<!-- teams:end -->")


def test_security_before_exposing_it():
    block, _teams = fenced(DOCS / "security.md", "sh")
    shown = 'echo "$CRONWELL_API_TOKEN|$CRONWELL_HOST|$CRONWELL_HTTP_ALLOWED_HOSTS"'
    done = subprocess.run(
        ["bash", "-euc", f"{block}\n{shown}"], capture_output=True, text=True, timeout=30
    )
    token, host, hosts = done.stdout.strip().split("|")
    assert len(token) >= 40 and host == "0.0.0.0" and json.loads(hosts) == ["api.internal.example"]


def test_security_for_a_team(start_service, tmp_path):
    token = "guide-admin-token"
    service = start_service({"CRONWELL_API_TOKEN": token})
    lines = [line.split("  #")[0].strip() for line in commands(DOCS / "security.md", TEAMS)]
    assert len(lines) == 6
    env = {**os.environ, "CRONWELL_URL": service.base_url, "CRONWELL_API_TOKEN": token}
    outputs = []
    for line in lines:
        assert ".venv/bin/cronwell " in line
        command = line.replace(".venv/bin/cronwell", str(CRONWELL))
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.returncode == 0, (line, done.stderr)
        outputs.append(done.stdout)
    secret = outputs[0].strip()
    assert (
        service.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json()["role"]
        == "operator"
    )
    assert "alice" in outputs[4] and "operator" in outputs[4]
    assert "user.update" in outputs[5] and "user.create" in outputs[5]


def test_a_job_type_of_your_own(tmp_path):
    (command,) = commands(DOCS / "job-types.md")
    package = tmp_path / "mytool"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        textwrap.dedent(
            """
            def run_policy(configuration, context):
                return {"policy": configuration.get("name", "none")}
            """
        )
    )
    served = MakeRun(
        command,
        tmp_path,
        {"PYTHONPATH": str(tmp_path), "CRONWELL_DATABASE_URL": f"sqlite:///{tmp_path}/t.db"},
    )
    try:
        served.wait_healthy()
        types = requests.get(f"{served.base_url}/api/job-types", timeout=5).json()
        assert "policy_execution" in {t["name"] for t in types}
    finally:
        served.stop()
