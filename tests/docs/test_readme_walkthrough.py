"""The README's curl walkthrough works as written (only the port is changed)."""

import json
import re
import shutil
import subprocess

import pytest

from tests.support import ROOT, wait_for
from tests.support.cli import CRONWELL

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def walkthrough_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- walkthrough:start -->")[1].split("<!-- walkthrough:end -->")[0]
    return [line for line in block.splitlines() if line.startswith("curl ")]


def run(command: str, port: int) -> tuple[int, str]:
    command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    if "-w " not in command:
        command += " -w '\\n%{http_code}'"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stderr)
    body, _, status = done.stdout.rstrip("\n").rpartition("\n")
    return int(status or body), body


def test_the_readme_walkthrough(start_service):
    commands = walkthrough_commands()
    assert len(commands) >= 14
    service = start_service()
    port = service.port
    seen: dict[str, tuple[int, str]] = {}
    for command in commands:
        if command.endswith("/api/jobs/hello/executions"):
            # "After 10 seconds": wait for the first scheduled run to finish instead of
            # sleeping (its row is listed, queued, up to a second before it runs).
            wait_for(lambda: service.executions("hello", status="success"), timeout=15)
        if command.endswith("/executions/1"):
            wait_for(lambda: service.executions("hello")[-1]["status"] == "success", timeout=5)
        status, body = run(command, port)
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
    listing = find("curl -si")[1]
    assert re.search(r"X-Pagination: .*\"total\": 1", listing)
    assert find("-X DELETE")[0] == 204
    deleted = json.loads(find("include_deleted=true")[1])
    assert deleted[0]["id"] == "hello" and deleted[0]["deleted_at"]
    restored = json.loads(find("/restore")[1])
    assert restored["deleted_at"] is None and restored["next_run_at"]
    assert len(service.executions("hello")) >= 2, "history kept through delete and restore"
    preview = json.loads(find("/api/schedules/preview")[1])
    assert len(preview["next_run_times"]) == 3
    health = next(v for k, v in seen.items() if k.endswith("/healthz"))
    assert json.loads(health[1])["status"] == "ok"


def _between(start: str, end: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(start)[1].split(end)[0]


def test_the_readme_workflows_and_command_line(start_service, tmp_path):
    service = start_service()
    created = service.post(
        "/api/jobs",
        json={"id": "hello", "name": "Hello", "type": "http", "schedule": "10s",
              "configuration": {"url": f"{service.base_url}/healthz"}},
    )  # fmt: skip
    assert created.status_code == 201
    block = _between("<!-- workflows:start -->", "<!-- workflows:end -->")
    commands = [line for line in block.splitlines() if line.startswith("curl ")]
    assert len(commands) >= 6
    for command in commands:
        status, body = run(command, service.port)
        assert status < 400, (command, status, body)
    hello = service.get("/api/jobs/hello").json()
    assert hello["tags"] == ["health", "team:ops"] and hello["on_success"] == ["hello-after"]
    assert hello["jitter_seconds"] == 30
    wait_for(lambda: [e for e in service.executions("hello-after") if e["trigger"] == "chain"])

    section = _between("## Command line", "## The cron API")
    jobs_file = section.split("```yaml\n")[1].split("```")[0]
    (tmp_path / "jobs.yaml").write_text(jobs_file)
    cli = section.split("```sh\n")[1].split("```")[0]
    lines = [line.split("  #")[0].strip() for line in cli.splitlines() if line.strip()]
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
