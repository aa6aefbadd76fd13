"""Fixtures: the real service under gunicorn on a temp SQLite file, a local HTTP target,
and PostgreSQL. Nothing of ours is mocked; the pieces live in tests/support.

``service`` is one gunicorn process per test module (tests use their own job ids, so they
share it); tests that kill or restart the service start their own with ``start_service``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import Postgres, find_postgres
from tests.support.service import Service
from tests.support.target import Target

#: The test files that take 30 s or more (by a run's --durations=0, slowest first), handed
#: to the xdist workers first: a long file started last would keep one worker busy after
#: the others are done. (setup.cfg turns off xdist's own order, which puts the files with
#: the most tests first.)
SLOW_FIRST = (
    "tests/scheduler/test_many_workers.py",
    "tests/docs/test_guides.py",
    "tests/scheduler/test_faults.py",
    "tests/scheduler/test_postgres.py",
    "tests/api/test_fuzz_openapi.py",
    "tests/bench/test_bench_harness_load.py",
    "tests/bench/test_bench_harness_api.py",
    "tests/scheduler/test_workers.py",
    "tests/ui/test_ui_pages.py",
    "tests/bench/test_bench_harness_time.py",
    "tests/ui/test_ui_accessibility.py",
    "tests/ui/test_ui_headers.py",
    "tests/api/test_sign_in.py",
    "tests/bench/test_bench_harness.py",
    "tests/notify/test_notifications.py",
    "tests/scheduler/test_misfires.py",
    "tests/scheduler/test_crash_and_shutdown.py",
    "tests/ui/test_ui_live.py",
    "tests/ui/test_ui_jobs_list.py",
    "tests/api/test_metrics.py",
    "tests/ui/test_ui_form.py",
    "tests/scheduler/test_pause.py",
    "tests/ui/test_ui_login.py",
    "tests/scheduler/test_network_cut.py",
    "tests/scheduler/test_heartbeat.py",
    "tests/ui/test_ui_actions.py",
    "tests/cli/test_cli_jobs.py",
    "tests/ui/test_ui_roles.py",
    "tests/scheduler/test_chains.py",
    "tests/scheduler/test_retries.py",
    "tests/api/test_concurrent_use.py",
    "tests/scheduler/test_prefire.py",
    "tests/scheduler/test_running_rows.py",
    "tests/cli/test_cli_apply.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest files first, in SLOW_FIRST's order; the rest as collected."""
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


@pytest.fixture(scope="module")
def start_service(tmp_path_factory) -> Iterator[Callable[..., Service]]:
    """Start services for this module (each with its own database unless ``workdir``)."""
    started: list[Service] = []

    def start(env: dict[str, str] | None = None, workdir: Path | None = None, wait=True):
        service = Service(workdir or tmp_path_factory.mktemp("svc"), env)
        started.append(service)
        return service.start(wait=wait)

    yield start
    for service in started:
        service.stop(timeout=10)


@pytest.fixture(scope="module")
def service(request, start_service) -> Service:
    """One service per test module; a module may set ``SERVICE_ENV = {...}``."""
    return start_service(getattr(request.module, "SERVICE_ENV", None))


@pytest.fixture
def make_job(service, target) -> Callable[..., dict]:
    """Create a job through the API (an http job to the target, every hour, by default)."""

    def make(**fields) -> dict:
        marker = uuid.uuid4().hex[:10]
        body = {
            "id": fields.pop("id", f"job-{marker}"),
            "name": fields.pop("name", f"job {marker}"),
            "type": fields.pop("type", "http"),
            "configuration": fields.pop("configuration", {"url": target.url(f"/ok?job={marker}")}),
            **fields,
        }
        if not any(k in body for k in ("schedule", "schedule_type")):
            body["schedule"] = "1h"
        response = service.post("/api/jobs", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bindir = find_postgres()
    if bindir is None:
        message = "PostgreSQL is not installed (make test installs it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run these tests")
        pytest.skip(message)
    server = Postgres(bindir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian's, driven by Playwright)."""
    from tests.support.browser import CHROMIUM_ARGS, find_chromium

    executable = find_chromium()
    if executable is None:
        message = "Chromium is not installed (make test installs it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run these tests")
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # A busy CI machine: an assertion waits up to 15 s for the page (it passes as soon as
    # the page agrees, so a quick page costs nothing).
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, service):
    """A new browser context (its own cookies) and page on ``service``. Every request
    the page makes is kept, and the test fails if one went to another host or if the
    Content-Security-Policy refused anything the page asked for."""
    from tests.support.browser import RequestLog

    context = browser.new_context(
        base_url=service.base_url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    log = RequestLog()
    context.on("request", lambda request: log.urls.append(request.url))
    refused: list[str] = []  # what the Content-Security-Policy blocked
    context.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab = context.new_page()
    tab.requests = log
    yield tab
    context.close()
    own = f"127.0.0.1:{service.port}"
    assert log.hosts() <= {own}, f"pages asked other hosts: {log.hosts() - {own}}"
    assert refused == [], f"the Content-Security-Policy refused: {refused}"
