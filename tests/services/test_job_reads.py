"""A page of jobs picked from either end of its order (app/services/job_reads.py): the
pages past the middle walk the order backwards, and must be the same pages. The API
lists oldest first only; the UI sorts every other way, fifty a page. This reads pages of
every order and size straight from the service, on a real database file."""

import datetime as dt

import pytest

from app import create_app
from app.runtime import current
from app.services import job_reads
from tests.support.helpers import add_job_row

NAMES = ["beta", "Alpha", "alpha", "gamma", "Beta", "delta", "alpha", "omega", "Zeta"]


@pytest.fixture
def runtime(tmp_path):
    app = create_app(
        {"SCHEDULER_AUTOSTART": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    )
    with app.app_context():
        rt = current()
        base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for i, name in enumerate(NAMES):
            add_job_row(
                rt.db,
                f"job-{i}",
                name=name,
                created_at=base + dt.timedelta(minutes=i // 2),  # ties, broken by id
                last_run_at=None if i % 3 == 0 else base + dt.timedelta(hours=i % 4),
            )
        add_job_row(rt.db, "gone", name="alpha", deleted_at=base)
        yield rt
        rt.db.engine.dispose()


@pytest.mark.parametrize("sort", sorted(job_reads.SORTS))
def test_every_page_of_every_order_is_a_slice_of_the_whole_list(runtime, sort):
    filters = job_reads.JobFilters(sort=sort)
    whole, total = job_reads.list_jobs(runtime, filters, 1, 100)
    assert total == len(NAMES) and len(whole) == len(NAMES)
    ids = [job.id for job in whole]
    for size in range(1, len(NAMES) + 2):
        for page in range(1, len(NAMES) + 3):
            found, count = job_reads.list_jobs(runtime, filters, page, size)
            assert count == total
            assert [job.id for job in found] == ids[(page - 1) * size : page * size], (
                size,
                page,
            )
