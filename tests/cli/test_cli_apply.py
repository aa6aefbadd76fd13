"""``cronwell apply`` and ``cronwell export``: jobs kept in a file, applied to a service."""

from __future__ import annotations

import textwrap

from tests.support.cli import cronwell

JOBS_FILE = textwrap.dedent(
    """
    prune_tag: managed
    jobs:
      - id: cli-report
        name: Nightly report
        type: shell
        schedule: "0 2 * * *"
        timezone: Europe/Paris
        configuration:
          command: echo report
        tags: [managed, reports]
        on_success: [cli-after]
      - id: cli-after
        name: After the report
        type: shell
        schedule: "@daily"
        configuration: {command: "echo after"}
        tags: [managed]
    """
)


def _write(tmp_path, text: str, name: str = "jobs.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_apply_creates_then_leaves_alone_then_updates_and_prunes(service, tmp_path):
    path = _write(tmp_path, JOBS_FILE)
    dry = cronwell(service, "apply", "-f", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == ["create cli-report", "create cli-after"]
    assert service.get("/api/jobs/cli-report").status_code == 404
    # The first job chains to the second, which the file creates after it.
    first = cronwell(service, "apply", "-f", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["create cli-report", "create cli-after"]
    report = service.get("/api/jobs/cli-report").json()
    assert report["on_success"] == ["cli-after"] and report["tags"] == ["managed", "reports"]
    again = cronwell(service, "apply", "-f", str(path))
    assert again.stdout.splitlines() == ["unchanged cli-report", "unchanged cli-after"]
    # Unmanaged jobs are never pruned; managed ones not in the file are.
    for job_id, tags in (("cli-stray", ["managed"]), ("cli-other", ["other"])):
        body = {"id": job_id, "name": job_id, "type": "shell", "schedule": "1h",
                "configuration": {"command": "true"}, "tags": tags}  # fmt: skip
        assert service.post("/api/jobs", json=body).status_code == 201
    changed = _write(tmp_path, JOBS_FILE.replace("echo after", "echo changed"))
    dry = cronwell(service, "apply", "-f", str(changed), "--prune", "--dry-run")
    assert dry.stdout.splitlines() == [
        "unchanged cli-report", "update cli-after", "delete cli-stray"
    ]  # fmt: skip
    assert service.get("/api/jobs/cli-stray").status_code == 200
    pruned = cronwell(service, "apply", "-f", str(changed), "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert service.get("/api/jobs/cli-stray").status_code == 404
    assert service.get("/api/jobs/cli-other").status_code == 200
    after = service.get("/api/jobs/cli-after").json()
    assert after["configuration"]["command"] == "echo changed"


def test_prune_without_a_prune_tag_is_refused(service, tmp_path):
    path = _write(tmp_path, "jobs: []\n")
    result = cronwell(service, "apply", "-f", str(path), "--prune")
    assert result.returncode == 1
    assert "prune_tag" in result.stderr and "Traceback" not in result.stderr


def test_a_refused_job_says_why_and_a_bad_file_is_refused(service, tmp_path):
    bad = _write(tmp_path, textwrap.dedent(
        """
        jobs:
          - id: cli-bad
            name: Bad schedule
            type: shell
            schedule: "every blue moon"
            configuration: {command: "true"}
        """
    ))  # fmt: skip
    result = cronwell(service, "apply", "-f", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cli-bad: schedule:")
    assert "Traceback" not in result.stderr
    for text in ("jobs: {}\n", "- just a list\n", "jobs:\n  - name: no id\n", "jobs: [\n"):
        broken = _write(tmp_path, text, "broken.yaml")
        outcome = cronwell(service, "apply", "-f", str(broken))
        assert outcome.returncode == 1, text
        assert "Traceback" not in outcome.stderr
    missing = cronwell(service, "apply", "-f", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2


def test_export_then_apply_recreates_the_jobs_on_another_service(
    service, start_service, tmp_path, target
):
    for job_id, extra in (
        ("cli-exp-a", {"on_failure": ["cli-exp-b"], "jitter_seconds": 3, "retry_count": 2}),
        ("cli-exp-b", {"timezone": "Asia/Tokyo", "is_enabled": False}),
    ):
        body = {"id": job_id, "name": job_id, "type": "http", "schedule": "30 4 * * mon-fri",
                "configuration": {"url": target.url("/ok"), "method": "POST",
                                  "headers": {"X-Team": "data"}},
                "tags": ["exported"], **extra}  # fmt: skip
        if job_id == "cli-exp-a":
            body["on_failure"] = []
        assert service.post("/api/jobs", json=body).status_code == 201, body
    service.put("/api/jobs/cli-exp-a", json={"on_failure": ["cli-exp-b"]})
    exported = cronwell(service, "export", "--tag", "exported")
    assert exported.returncode == 0, exported.stderr
    path = _write(tmp_path, exported.stdout, "exported.yaml")
    other = start_service()
    applied = cronwell(other, "apply", "-f", str(path))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == ["create cli-exp-a", "create cli-exp-b"]
    volatile = {"created_at", "updated_at", "next_run_at", "recent_executions"}
    for job_id in ("cli-exp-a", "cli-exp-b"):
        before = {k: v for k, v in service.get(f"/api/jobs/{job_id}").json().items()
                  if k not in volatile}  # fmt: skip
        after = {k: v for k, v in other.get(f"/api/jobs/{job_id}").json().items()
                 if k not in volatile}  # fmt: skip
        assert after == before
    again = cronwell(other, "apply", "-f", str(path))
    assert again.stdout.splitlines() == ["unchanged cli-exp-a", "unchanged cli-exp-b"]
