"""Small helpers for tests that watch real processes or start their own service."""

import datetime as dt
import re
from pathlib import Path

import requests
from sqlalchemy import insert

from app.db import Database, utcnow
from app.models import Job
from tests.support.waiting import wait_for


def process_alive(pid: int) -> bool:
    """True if the pid runs (a zombie counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def seconds_between(a: str, b: str) -> float:
    return (ts(b) - ts(a)).total_seconds()


def create_http_job(
    service, job_id: str, target=None, schedule: str = "1s", url: str | None = None, **extra
) -> dict:
    """Create an http job to ``url`` (else to the target) through the API (for tests that
    start their own service, without the ``make_job`` fixture)."""
    response = service.post(
        "/api/jobs",
        json={
            "id": job_id,
            "name": job_id,
            "type": "http",
            "schedule": schedule,
            "configuration": {"url": url or target.url(f"/ok?{job_id}-")},
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def run_and_wait(service, job_id: str, **request) -> dict:
    """Run the job now through the API (``request``: e.g. ``json=`` run parameters) and
    wait for its execution row to end."""
    execution = service.post(f"/api/jobs/{job_id}/run", **request).json()
    return wait_for(
        lambda: (
            (e := service.get(f"/api/jobs/{job_id}/executions/{execution['id']}").json())
            and e["status"] not in ("queued", "running")
            and e
        )
    )


def scrape(service, name: str) -> list:
    """The samples named ``name`` in the service's /metrics, read with prometheus-client's
    own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    response = service.get("/metrics")
    assert response.status_code == 200, response.text
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


def run_bench_tiny(
    tmp_path: Path, *workloads: str, env: dict[str, str] | None = None
) -> tuple[dict, str]:
    """Run ``python -m bench.run --tiny --only <workloads>``; its JSON report and output."""
    import json
    import os
    import subprocess
    import sys

    from tests.support.service import ROOT

    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--only", *workloads, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def until_file(path: Path, then: str = "true", limit_seconds: int = 10) -> str:
    """A shell command that waits until ``path`` exists (at most ``limit_seconds``), then
    runs ``then``: a run that stays running until the test says so."""
    polls = limit_seconds * 20
    return (
        f"i=0; while [ ! -e {path} ] && [ $i -lt {polls} ]; do sleep 0.05; i=$((i+1)); done; {then}"
    )


def form_login(service, username: str, password: str) -> tuple[requests.Session, int]:
    """Sign in through the UI's login form as a browser would (its CSRF token too): the
    session that holds the cookie, and the form's answer's status (302: signed in)."""
    client = requests.Session()
    form = client.get(service.base_url + "/ui/login", timeout=15)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = client.post(
        service.base_url + "/ui/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        allow_redirects=False,
        timeout=15,
    )
    return client, answer.status_code


def add_job_row(db: Database, job_id: str, **fields) -> None:
    """A job's row written straight to ``db`` (a ``hello`` job every second), for tests of
    the scheduler's stages without a server; ``fields`` override its columns."""
    now = utcnow()
    values = {
        "id": job_id,
        "name": job_id,
        "type": "hello",
        "configuration": {},
        "schedule_type": "interval",
        "schedule_config": {"every": "1s"},
        "timezone": "UTC",
        "is_enabled": True,
        "max_duration_seconds": 5,
        "retry_count": 0,
        "retry_delay_seconds": 1,
        "overlap_policy": "allow",
        "misfire_grace_seconds": 2,
        "run_count": 0,
        "success_count": 0,
        "fail_count": 0,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "sync_pending": False,
        **fields,
    }
    with db.write_connection() as connection:
        connection.execute(insert(Job), values)
