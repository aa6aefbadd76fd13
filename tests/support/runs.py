"""Runs that tell on themselves, for the fault tests: shell jobs that append their
execution id to a file (a run done twice shows as an id written twice), and the checks
that every id ran once and has its row."""

from __future__ import annotations

import collections
from pathlib import Path

from tests.support.waiting import wait_for

#: Statuses a run that wrote its id may end with when nothing took its worker away.
RAN = ("success",)


def logging_job(service, job_id: str, ids: Path, schedule: str = "1s", then: str = "", **extra):
    """A shell job that appends its execution id to ``ids`` (then runs ``then``)."""
    command = f"echo $CRONWELL_EXECUTION_ID >> {ids}" + (f"; {then}" if then else "")
    response = service.post(
        "/api/jobs",
        json={
            "id": job_id,
            "name": job_id,
            "type": "shell",
            "schedule": schedule,
            "configuration": {"command": command},
            **extra,
        },
    )
    assert response.status_code == 201, response.text


def ran_ids(ids: Path) -> list[str]:
    return ids.read_text().split() if ids.exists() else []


def settled_rows(service, job_ids: list[str], timeout: float = 40) -> list[dict]:
    """Disable the jobs, then wait until none of their rows is queued or running."""
    for job_id in job_ids:
        assert service.post(f"/api/jobs/{job_id}/disable").status_code == 200

    def all_final():
        rows = [row for job_id in job_ids for row in service.executions(job_id)]
        return rows if all(r["status"] not in ("queued", "running") for r in rows) else None

    return wait_for(all_final, timeout, interval=0.5)


def assert_each_ran_once_and_is_recorded(rows: list[dict], ids: Path, allow=RAN) -> None:
    ran = collections.Counter(ran_ids(ids))
    twice = {execution_id: n for execution_id, n in ran.items() if n > 1}
    assert not twice, f"executions run more than once: {twice}"
    by_id = {str(row["id"]): row for row in rows}
    for execution_id in ran:
        row = by_id.get(execution_id)
        assert row is not None, f"execution {execution_id} ran and has no row"
        assert row["status"] in allow, row


def wait_for_more_runs(ids: Path, more: int, timeout: float) -> None:
    count = len(ran_ids(ids))
    wait_for(lambda: len(ran_ids(ids)) >= count + more, timeout, interval=0.2)


def hanging_first_attempt(service, job_id: str, ids: Path, marker: Path) -> None:
    """A job (no schedule of its own) with one retry whose first attempt hangs for a
    minute; the retry finds ``marker`` and ends at once."""
    hang = f"if [ ! -e {marker} ]; then touch {marker}; sleep 60; fi"
    logging_job(
        service, job_id, ids, schedule="0 3 * * *", then=hang,
        retry_count=1, retry_delay_seconds=1,
    )  # fmt: skip
