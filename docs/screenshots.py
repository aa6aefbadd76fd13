"""Take the screenshots in docs/ (dashboard and job page) of a running service.

    make run                                  # in another terminal, with
                                              # CRONWELL_SHELL_JOBS_ENABLED=true
    .venv/bin/python docs/screenshots.py      # http://127.0.0.1:8000 by default

It creates a handful of example jobs (ids start with ``example-``), runs them, and drives
Debian's chromium with Playwright, as the UI tests do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
JOBS = [
    {"id": "example-cleanup", "name": "Clean temporary files", "type": "shell",
     "schedule": "15m", "tags": ["ops"], "configuration": {"command": "echo removed 3 files"}},
    {"id": "example-backup", "name": "Nightly database backup", "type": "shell",
     "schedule": "30 2 * * *", "timezone": "Europe/Paris", "tags": ["ops", "nightly"],
     "description": "Dumps the database and keeps the last 14 dumps.", "retry_count": 2,
     "on_success": ["example-cleanup"], "jitter_seconds": 60,
     "configuration": {"command": "echo dumping; sleep 1; echo 14 dumps kept"}},
    {"id": "example-health", "name": "Health ping", "type": "http", "schedule": "10s",
     "configuration": {"url": "{base}/healthz"}},
    {"id": "example-report", "name": "Weekly report", "type": "http",
     "schedule": "0 9 * * mon", "timezone": "America/New_York",
     "configuration": {"url": "{base}/no-such-report", "method": "POST"}},
    {"id": "example-long", "name": "Rebuild search index", "type": "shell", "schedule": "6h",
     "configuration": {"command": "echo indexing; sleep 20; echo done"}},
    {"id": "example-paused", "name": "Legacy export", "type": "http", "schedule": "@daily",
     "is_enabled": False, "configuration": {"url": "{base}/healthz"}},
]  # fmt: skip


def main(base: str = "http://127.0.0.1:8000") -> None:
    http = requests.Session()
    for job in JOBS:
        body = dict(job, configuration={
            k: v.replace("{base}", base) if isinstance(v, str) else v
            for k, v in job["configuration"].items()
        })  # fmt: skip
        if http.get(f"{base}/api/jobs/{job['id']}").status_code == 404:
            http.post(f"{base}/api/jobs", json=body).raise_for_status()
    for job_id in ("example-backup", "example-report", "example-backup"):
        http.post(f"{base}/api/jobs/{job_id}/run")
        time.sleep(1.5)
    http.post(f"{base}/api/jobs/example-long/run")
    time.sleep(2)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/ui/")
        page.screenshot(path=HERE / "ui-dashboard.png", full_page=True)
        page.goto(f"{base}/ui/jobs/example-backup")
        page.screenshot(path=HERE / "ui-job.png", full_page=True)
        browser.close()
    print("written", HERE / "ui-dashboard.png", HERE / "ui-job.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
