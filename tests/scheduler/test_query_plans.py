"""What SQLite reads for a claim and for the reaper while a backlog of runs is queued: the
query plans of the statements they issue (EXPLAIN QUERY PLAN), on a real file.

Without statistics, SQLite's planner took the run queue's index (status, worker,
scheduled_at) as the way into ``id IN (...) AND status = 'queued'``, and read every queued
row of a backlog for each claim: with 90,000 queued, two workers recorded fewer runs a
second than one. The reaper's look for runs no live worker's labels fit read the whole
due queue the same way, every second. And the dashboard's newest failures must come from
an index in time order, not a sort of every failed run.
"""

import datetime as dt

import pytest
from sqlalchemy import event, insert, select

from app.config import Settings
from app.db import Database, make_engine, utcnow
from app.models import Base, Execution
from app.scheduler.claims import claim_due
from app.scheduler.reaping import reap_expired
from app.statuses import Status, Trigger
from tests.support.helpers import add_job_row

BACKLOG = 2000


@pytest.fixture
def db(tmp_path):
    """A database with a backlog of due runs of one job, and a few of a job whose
    ``run_on`` labels no worker has."""
    database = Database(make_engine(f"sqlite:///{tmp_path / 'plans.db'}"))
    Base.metadata.create_all(database.engine)
    add_job_row(database, "plain", misfire_grace_seconds=3600)
    add_job_row(database, "gpu", run_on={"role": "gpu"}, misfire_grace_seconds=1)
    past = utcnow() - dt.timedelta(minutes=5)
    rows = [
        {
            "job_id": "gpu" if i % 500 == 0 else "plain",
            "status": Status.QUEUED,
            "trigger": Trigger.SCHEDULE,
            "attempt": 1,
            "scheduled_at": past + dt.timedelta(milliseconds=i),
            "created_at": past,
            "output_truncated": False,
            "cancel_requested": False,
        }
        for i in range(BACKLOG)
    ]
    with database.write_connection() as connection:
        connection.execute(insert(Execution), rows)
    yield database
    database.engine.dispose()


def plans(db: Database, work) -> tuple[object, list[tuple[str, list[str]]]]:
    """Run ``work(connection)`` in a write transaction; its result, and each statement it
    issued on the executions table with SQLite's plan for it (the plan's steps)."""
    issued: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany and "executions" in statement:
            issued.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.write_connection() as connection:
            result = work(connection)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    with db.reader.connect() as connection:
        explained = [
            (statement, [row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters
            )])
            for statement, parameters in issued
        ]  # fmt: skip
    return result, explained


def test_a_claim_takes_its_rows_by_id_not_through_the_queue(db):
    horizon = utcnow() + dt.timedelta(seconds=1)
    claimed, explained = plans(db, lambda c: claim_due(c, "w1", 30, 10, horizon, {}, Settings()))
    assert len(claimed.started) == 10
    updates = [plan for statement, plan in explained if statement.lstrip().startswith("UPDATE")]
    assert updates, explained
    for plan in updates:
        # The claiming UPDATE and its subquery: rows looked up by their ids.
        assert all("INTEGER PRIMARY KEY" in step for step in plan if "executions" in step), plan
    # The candidates' read walks the queue's index only as far as its LIMIT.
    read = next(plan for statement, plan in explained if statement.lstrip().startswith("SELECT"))
    assert any("ix_executions_queue (status=? AND worker=? AND scheduled_at<?)" in s for s in read)


def test_the_reaper_reads_only_the_queued_runs_of_jobs_with_labels(db):
    _, explained = plans(db, lambda c: reap_expired(c, Settings(lease_seconds=30)))
    by_job = [plan for statement, plan in explained if "executions.job_id IN" in statement]
    assert by_job, explained
    for plan in by_job:
        assert any("ix_executions_job_status (job_id=? AND status=?)" in s for s in plan), plan
    # And it did its work: the gpu job's runs, past their grace, are missed.
    with db.read() as session:
        missed = session.scalars(
            select(Execution.job_id).where(Execution.status == Status.MISSED)
        ).all()
    assert missed == ["gpu"] * (BACKLOG // 500)


def test_the_newest_failures_are_read_in_time_order_not_sorted(tmp_path):
    """The dashboard's newest problems: one status's rows in time order from an index
    (status, scheduled_at), not every failed run of the history sorted."""
    from app import create_app
    from app.services.overview import recent_problems

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'ui.db'}", "SCHEDULER_AUTOSTART": False}
    )
    runtime = app.extensions["cronwell"]
    add_job_row(runtime.db, "flaky")
    start = utcnow() - dt.timedelta(hours=1)
    with runtime.db.write_connection() as connection:
        connection.execute(
            insert(Execution),
            [
                {
                    "job_id": "flaky",
                    "status": Status.FAILED,
                    "trigger": Trigger.SCHEDULE,
                    "attempt": 1,
                    "scheduled_at": start + dt.timedelta(seconds=i),
                    "created_at": start,
                    "output_truncated": False,
                    "cancel_requested": False,
                    "worker": f"host:{i % 7}",
                }
                for i in range(300)
            ],
        )
    issued: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if "FROM executions" in statement and "ORDER BY" in statement:
            issued.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", capture)
    try:
        newest = recent_problems(runtime)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", capture)
    assert [line.execution.scheduled_at for line in newest] == [
        start + dt.timedelta(seconds=i) for i in range(299, 289, -1)
    ]
    assert issued
    with runtime.db.reader.connect() as connection:
        for statement, parameters in issued:
            plan = [row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters
            )]  # fmt: skip
            assert not any("TEMP B-TREE" in step for step in plan), plan
    runtime.db.engine.dispose()
