"""The fire path's stages on their own: milliseconds each, a real SQLite file, no server.

pass (plan_fires) -> one transaction, fenced by the leadership number (record_fires +
the store's advance) -> the runner's ready queue -> the claim -> a worker -> the recorder
(record); the reaper for runs whose lease ended. Each stage is called as the one before
it calls it, with real APScheduler jobs and triggers and real rows.
"""

import dataclasses
import datetime as dt
import threading
import time

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, insert, select

from app.config import Settings
from app.db import Database, make_engine, utcnow
from app.instruments import Instruments
from app.jobtypes import JobTypeRegistry
from app.models import (
    Base,
    CalendarRow,
    Execution,
    ExecutionCount,
    Job,
    Notification,
    job_store_table,
)
from app.scheduler.claims import RUN_SPEC_COLUMNS, claim, renew
from app.scheduler.dispatch import fire
from app.scheduler.intake import record_fires
from app.scheduler.leader import Leadership, NullLeaderLock
from app.scheduler.passes import Pass, plan_fires, split_run_times
from app.scheduler.reaping import reap_expired
from app.scheduler.recorder import record
from app.scheduler.runner import Runner
from app.scheduler.stages import Fire, OutcomeRecord, RunSpec
from app.scheduler.store import CronwellJobStore
from tests.support import wait_for
from tests.support.helpers import add_job_row

NOW = dt.datetime(2026, 11, 24, 12, 0, 0, tzinfo=dt.UTC)
#: Every job notifies this (unreachable) receiver of failures, recoveries and misses.
SETTINGS = Settings(
    notify_urls=["http://127.0.0.1:9/hook"], notify_on=["failure", "recovery", "missed"]
)
HORIZON = NOW + dt.timedelta(seconds=1)


def fired(connection: Connection, fires: list[Fire]) -> list[RunSpec]:
    """Write ``fires`` as the pass does, and read the rows it queued as a claim reads them."""
    ids = [queued.execution_id for queued in record_fires(connection, fires, SETTINGS)]
    rows = connection.execute(
        select(*RUN_SPEC_COLUMNS)
        .join(Job, Job.id == Execution.job_id)
        .where(Execution.id.in_(ids))
        .order_by(Execution.id)
    )
    return [RunSpec(**row._mapping) for row in rows]


@pytest.fixture
def db(tmp_path):
    database = Database(make_engine(f"sqlite:///{tmp_path / 'stages.db'}"))
    Base.metadata.create_all(database.engine)
    yield database
    database.engine.dispose()


@pytest.fixture
def aps():
    """A real APScheduler with a memory store, paused: its jobs are APScheduler's own."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


# -- the pass's plan -------------------------------------------------------------------


def test_past_fires_split_into_the_latest_within_grace_and_the_missed():
    times = [NOW - dt.timedelta(seconds=s) for s in (5, 3, 1)]
    to_run, missed = split_run_times(times, 2, NOW)
    assert to_run == times[-1] and missed == times[:2]
    assert split_run_times(times, 0.5, NOW) == (None, times)


def test_a_plan_hands_out_each_fire_up_to_the_horizon_and_moves_the_job_on(aps):
    trigger = IntervalTrigger(seconds=0.25, start_date=NOW - dt.timedelta(seconds=3))
    job = aps.add_job(
        fire, trigger, args=["j"], id="j", misfire_grace_time=2,
        next_run_time=NOW - dt.timedelta(seconds=3),
    )  # fmt: skip
    plan = plan_fires([job], NOW, HORIZON)
    past, *ahead = plan.fires
    assert past.scheduled_for == NOW and len(past.missed) == 12  # the others coalesce
    assert [f.scheduled_for for f in ahead] == [
        NOW + dt.timedelta(seconds=0.25 * i) for i in range(1, 5)
    ]
    assert plan.moved == [job] and job.next_run_time == HORIZON + dt.timedelta(seconds=0.25)
    assert plan.done == []


def test_a_one_shot_leaves_the_store_once_handed_out(aps):
    job = aps.add_job(fire, DateTrigger(NOW), args=["once"], id="once", next_run_time=NOW)
    plan = plan_fires([job], NOW, HORIZON)
    assert plan.fires == [Fire("once", NOW, ())] and plan.done == ["once"]


# -- writing fires -----------------------------------------------------------------------


def test_each_job_of_a_batch_meets_its_own_calendars_at_a_shared_time(db):
    """A pass decides each (calendars, fire time) once for all the jobs that share them;
    jobs with other calendars, or none, at the same time are decided apart."""
    now = utcnow()
    window = {"start": (now - dt.timedelta(hours=1)).isoformat(),
              "end": (now + dt.timedelta(hours=1)).isoformat()}  # fmt: skip
    with db.write_connection() as connection:
        connection.execute(insert(CalendarRow), [
            {"id": "freeze", "name": "freeze", "timezone": "UTC", "windows": [window]},
            {"id": "weekend", "name": "weekend", "timezone": "UTC", "windows": [
                {"days": [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                          if d != now.strftime("%a").lower()], "start": "00:00", "end": "24:00"}
            ]},
        ])  # fmt: skip
    add_job_row(db, "held", calendars=["freeze"])
    add_job_row(db, "open", calendars=["weekend"])  # excludes every day but today
    add_job_row(db, "plain")
    add_job_row(db, "held-too", calendars=["weekend", "freeze"])
    add_job_row(db, "also-held", calendars=["freeze"])
    names = ["held", "open", "plain", "held-too", "also-held"]
    with db.write_connection() as connection:
        queued = record_fires(connection, [Fire(name, now) for name in names], SETTINGS)
    assert sorted(q.job_id for q in queued) == ["open", "plain"]
    with db.read() as session:
        skipped = dict(
            session.execute(
                select(Execution.job_id, Execution.error).where(Execution.status == "skipped")
            ).all()
        )
    assert skipped == {
        "held": "calendar freeze",
        "held-too": "calendar freeze",
        "also-held": "calendar freeze",
    }


def test_fires_become_queued_missed_and_skipped_rows(db):
    add_job_row(db, "a")
    add_job_row(db, "busy", overlap_policy="skip")
    add_job_row(db, "pending", sync_pending=True)
    now = utcnow()
    with db.write_connection() as connection:
        connection.execute(
            insert(Execution),
            {"job_id": "busy", "status": "running", "trigger": "manual", "attempt": 1,
             "scheduled_at": now, "created_at": now},
        )  # fmt: skip
    fires = [
        Fire("a", now, (now - dt.timedelta(seconds=9),)),
        Fire("a", now + dt.timedelta(seconds=0.5)),
        Fire("busy", now),
        Fire("pending", now),  # its store row is stale: dropped
        Fire("gone", now),  # no such job: dropped
    ]
    with db.write_connection() as connection:
        specs = record_fires(connection, fires, SETTINGS)
        again = record_fires(connection, fires[:2], SETTINGS)  # handed out twice: recorded once
    assert [(s.job_id, s.scheduled_at) for s in specs] == [
        ("a", now),
        ("a", now + dt.timedelta(seconds=0.5)),
    ]
    assert again == []
    with db.read() as session:
        rows = session.execute(
            select(Execution.job_id, Execution.status).where(Execution.trigger == "schedule")
        ).all()
    assert sorted(rows) == [("a", "missed"), ("a", "queued"), ("a", "queued"), ("busy", "skipped")]


def _every_second_in_store(db: Database, aps) -> tuple[CronwellJobStore, dt.datetime]:
    """A job every second in a store on ``db``, first due in 0.3 s."""
    add_job_row(db, "every-second")
    store = CronwellJobStore(db)
    aps.add_jobstore(store, "cronwell")
    due = utcnow() + dt.timedelta(seconds=0.3)
    aps.add_job(
        fire, IntervalTrigger(seconds=1, start_date=due), args=["every-second"],
        id="every-second", jobstore="cronwell", next_run_time=due,
    )  # fmt: skip
    return store, due


def test_a_pass_writes_its_fires_and_the_store_s_next_run_in_one_go(db, aps):
    store, due = _every_second_in_store(db, aps)
    offered = []
    leadership = _leader(db)
    wait = Pass(db, store, offered.extend, 1.0, SETTINGS, leadership.fence, threading.Event())()
    assert [(s.job_id, s.scheduled_at) for s in offered] == [("every-second", due)]
    with db.read() as session:
        next_run = session.scalar(select(job_store_table.c.next_run_time))
    assert next_run == pytest.approx((due + dt.timedelta(seconds=1)).timestamp())
    assert 0.5 <= wait <= 1.0  # at least half the horizon, until the next fire is in it


def _leader(db: Database, worker: str = "leader-1") -> Leadership:
    leadership = Leadership(db, NullLeaderLock(), worker, lease_seconds=30)
    assert leadership.take()
    return leadership


def test_a_pass_under_a_stale_leadership_number_writes_nothing(db, aps):
    store, due = _every_second_in_store(db, aps)
    old, fenced = _leader(db, "old"), threading.Event()
    new = _leader(db, "new")  # holds the lock (a NullLeaderLock is always free)
    assert new.term == old.term + 1
    offered = []
    assert Pass(db, store, offered.extend, 1.0, SETTINGS, old.fence, fenced)() is None
    assert fenced.is_set() and offered == []
    with db.read() as session:
        assert session.scalars(select(Execution.id)).all() == []
        next_run = session.scalar(select(job_store_table.c.next_run_time))
    assert next_run == pytest.approx(due.timestamp())  # the store did not move either
    Pass(db, store, offered.extend, 1.0, SETTINGS, new.fence, fenced)()
    assert len(offered) == 1


# -- claiming, running and recording -----------------------------------------------------


def test_a_row_is_claimed_by_one_worker_only(db):
    add_job_row(db, "a")
    add_job_row(db, "solo", overlap_policy="skip")
    now = utcnow()
    with db.write_connection() as connection:
        spec = fired(connection, [Fire("a", now)])[0]
        solo = fired(connection, [Fire("solo", now)])[0]
    with db.write_connection() as connection:
        first = claim(connection, "w1", 30, [spec, solo], SETTINGS)
    with db.write_connection() as connection:
        second = claim(connection, "w2", 30, [spec, solo], SETTINGS)
    assert set(first.started) == {spec.execution_id, solo.execution_id}
    assert second.started == {} and second.deferred == set()
    with db.read() as session:
        row = session.get(Execution, spec.execution_id)
    assert (row.status, row.worker) == ("running", "w1")
    assert row.lease_until > row.started_at
    # A later fire of a skip job still running anywhere is skipped; a run-now waits.
    with db.write_connection() as connection:
        later = fired(connection, [Fire("solo", now + dt.timedelta(seconds=1))])
        manual = dataclasses.replace(later[0], trigger="manual")
        waits = claim(connection, "w2", 30, [manual], SETTINGS)
        skipped = claim(connection, "w2", 30, later, SETTINGS)
    assert waits.deferred == {later[0].execution_id} and waits.started == {}
    assert skipped.started == {} and skipped.deferred == set()
    with db.read() as session:
        row = session.get(Execution, later[0].execution_id)
    assert row.status == "skipped" and str(solo.execution_id) in row.error


def test_a_scheduled_fire_claimed_after_its_grace_time_is_missed(db):
    add_job_row(db, "late", misfire_grace_seconds=2)
    old = utcnow() - dt.timedelta(seconds=5)
    with db.write_connection() as connection:
        spec = fired(connection, [Fire("late", old)])[0]
        claimed = claim(connection, "w1", 30, [spec], SETTINGS)
    assert claimed.started == {}
    with db.read() as session:
        row = session.get(Execution, spec.execution_id)
    assert row.status == "missed" and "misfire_grace_seconds (2)" in row.error


def test_a_run_whose_lease_ended_is_interrupted_and_retried_and_its_worker_told(db):
    add_job_row(db, "lost", retry_count=1, retry_delay_seconds=1)
    now = utcnow()
    with db.write_connection() as connection:
        spec = fired(connection, [Fire("lost", now)])[0]
        claim(connection, "w1", 0.2, [spec], SETTINGS)
    with db.write_connection() as connection:
        assert reap_expired(connection, SETTINGS)[0] == []  # the lease still runs
    time.sleep(0.3)
    with db.write_connection() as connection:
        reaped, _ = reap_expired(connection, SETTINGS)
    assert reaped == [(spec.execution_id, "w1")]
    with db.write_connection() as connection:
        still_mine = renew(connection, "w1", 30, [spec.execution_id], 10, {}, now)
        # Its late outcome changes nothing.
        record(connection, [_outcome(spec, "success")], SETTINGS, "w1")
    assert still_mine == set()
    with db.read() as session:
        rows = session.execute(
            select(Execution.status, Execution.trigger, Execution.attempt, Execution.error)
            .where(Execution.job_id == "lost")
            .order_by(Execution.id)
        ).all()
        job = session.get(Job, "lost")
    assert [r[:3] for r in rows] == [("interrupted", "schedule", 1), ("queued", "retry", 2)]
    assert "w1" in rows[0].error and "lease" in rows[0].error
    assert (job.run_count, job.fail_count, job.last_status) == (1, 1, "interrupted")


def hello(configuration, context):
    """A host job type: says hello."""
    return {"hello": configuration.get("name", "world")}


def test_the_runner_starts_an_offered_row_and_the_recorder_writes_its_outcome(db):
    add_job_row(db, "greeter", configuration={"name": "stages"})
    now = utcnow()
    with db.write_connection() as connection:
        specs = record_fires(connection, [Fire("greeter", now)], SETTINGS)
    runner = Runner(
        db,
        JobTypeRegistry(Settings(job_types={"hello": hello})),
        Settings(max_concurrent=2),
        Instruments(),
        "w1",
    )
    runner.start()
    try:
        started = time.monotonic()
        runner.offer(specs)

        def finished():
            with db.read() as session:
                row = session.get(Execution, specs[0].execution_id)
                return row if row.status == "success" else None

        row = wait_for(finished, timeout=5, interval=0.005)
        assert time.monotonic() - started < 0.5
        assert row.result == {"hello": "stages"} and row.started_at is not None
        assert row.worker == "w1"
        with db.read() as session:
            job = session.get(Job, "greeter")
        assert (job.run_count, job.success_count, job.last_status) == (1, 1, "success")
    finally:
        runner.stop(0)


def test_record_writes_its_worker_s_outcomes_and_queues_a_retry(db):
    add_job_row(db, "flaky")
    now = utcnow()
    with db.write_connection() as connection:
        spec = fired(connection, [Fire("flaky", now)])[0]
        other = fired(connection, [Fire("flaky", now + dt.timedelta(seconds=1))])[0]
        claim(connection, "w1", 30, [spec], SETTINGS)
        claim(connection, "w2", 30, [other], SETTINGS)
    outcome = OutcomeRecord(
        execution_id=spec.execution_id, job_id="flaky", status="failed", started_at=now,
        finished_at=now, duration_ms=5, result=None, output="oops", output_truncated=False,
        error="no", retry_at=now + dt.timedelta(seconds=10), attempt=1,
    )  # fmt: skip
    with db.write_connection() as connection:
        # w1's outcome for w2's run is not w1's to write.
        settled = record(connection, [outcome, _outcome(other, "success")], SETTINGS, "w1")
    assert settled.notifications == 0  # a retry follows: the run's outcome is not final yet
    assert settled.queued == ()
    with db.read() as session:
        rows = session.execute(
            select(Execution.status, Execution.trigger, Execution.attempt, Execution.retry_of)
            .where(Execution.job_id == "flaky")
            .order_by(Execution.id)
        ).all()
        job = session.get(Job, "flaky")
    assert rows == [
        ("failed", "schedule", 1, None),
        ("running", "schedule", 1, None),
        ("queued", "retry", 2, spec.execution_id),
    ]
    assert (job.run_count, job.fail_count, job.last_error) == (1, 1, "no")


def _outcome(spec, status, *, retry_at=None, attempt=1, retry_of=None) -> OutcomeRecord:
    now = utcnow()
    return OutcomeRecord(
        execution_id=spec.execution_id, job_id=spec.job_id, status=status, started_at=now,
        finished_at=now, duration_ms=5, result=None, output=None, output_truncated=False,
        error=None if status == "success" else status, retry_at=retry_at, attempt=attempt,
        retry_of=retry_of,
    )  # fmt: skip


def _claim_and_record(db, spec, outcome):
    """Claim ``spec`` and write its outcome as the runner and recorder would."""
    with db.write_connection() as connection:
        assert claim(connection, "w1", 30, [spec], SETTINGS).started
        return record(connection, [outcome], SETTINGS, "w1")


def _run(db, spec, outcome) -> int:
    """Start and finish ``spec`` as the runner would; the notifications written."""
    return _claim_and_record(db, spec, outcome).notifications


def test_one_failure_notification_after_the_last_retry_then_a_recovery(db):
    add_job_row(db, "flaky", retry_count=1)
    now = utcnow()
    with db.write_connection() as connection:
        first = fired(connection, [Fire("flaky", now)])[0]
        later = fired(connection, [Fire("flaky", now + dt.timedelta(seconds=1))])[0]
    assert _run(db, first, _outcome(first, "failed", retry_at=now)) == 0  # a retry follows
    with db.read() as session:
        retry_id = session.scalar(select(Execution.id).where(Execution.trigger == "retry"))
    retry = dataclasses.replace(first, execution_id=retry_id, attempt=2)
    assert _run(db, retry, _outcome(retry, "timeout", attempt=2, retry_of=first.execution_id)) == 1
    assert _run(db, later, _outcome(later, "success")) == 1  # recovery (success is not chosen)
    with db.read() as session:
        sent = session.execute(
            select(Notification.execution_id, Notification.event, Notification.url)
        ).all()
        counts = dict(session.execute(select(ExecutionCount.status, ExecutionCount.count)).all())
        job = session.get(Job, "flaky")
    hook = SETTINGS.notify_urls[0]
    assert sent == [(retry_id, "failure", hook), (later.execution_id, "recovery", hook)]
    assert counts == {"failed": 1, "timeout": 1, "success": 1}
    assert job.failing is False
    assert job.last_failure_at is not None and job.last_success_at >= job.last_failure_at


def test_a_final_outcome_hands_off_to_its_chain_in_the_same_write(db):
    add_job_row(db, "next-ok")
    add_job_row(db, "next-off", is_enabled=False)
    add_job_row(db, "gone", deleted_at=utcnow())
    add_job_row(
        db,
        "source",
        retry_count=1,
        on_success=["next-ok", "gone"],
        on_failure=["next-off"],
    )
    now = utcnow()
    with db.write_connection() as connection:
        first, second = (
            fired(connection, [Fire("source", now + dt.timedelta(seconds=i))])[0] for i in range(2)
        )
    retrying = _claim_and_record(
        db, first, _outcome(first, "failed", retry_at=now + dt.timedelta(hours=1))
    )
    failed = _claim_and_record(db, second, _outcome(second, "timeout"))
    assert retrying.queued == ()  # an attempt with a retry to come hands off nothing
    assert failed.queued == ()  # its on_failure job is disabled: a skipped row
    with db.write_connection() as connection:
        third = fired(connection, [Fire("source", now + dt.timedelta(seconds=2))])[0]
    succeeded = _claim_and_record(db, third, _outcome(third, "success"))
    assert len(succeeded.queued) == 1  # next-ok; the deleted job gets nothing
    with db.read() as session:
        chained = session.execute(
            select(
                Execution.id, Execution.job_id, Execution.status, Execution.trigger,
                Execution.triggered_by, Execution.error,
            ).where(Execution.trigger == "chain").order_by(Execution.id)
        ).all()  # fmt: skip
    assert [(r.job_id, r.status, r.triggered_by) for r in chained] == [
        ("next-off", "skipped", second.execution_id),
        ("next-ok", "queued", third.execution_id),
    ]
    assert "disabled" in chained[0].error
    assert chained[1].id == succeeded.queued[0]


def test_one_claim_skips_several_fires_of_busy_jobs(db):
    """Several rows skipped (or missed) by one claim: each is ended (SQLite takes no
    UPDATE ... RETURNING over many parameter sets)."""
    now = utcnow()
    fires = []
    for job_id in ("busy-a", "busy-b"):
        add_job_row(db, job_id, overlap_policy="skip")
        with db.write_connection() as connection:
            running = fired(connection, [Fire(job_id, now)])[0]
            claim(connection, "w1", 30, [running], SETTINGS)
            fires += fired(connection, [Fire(job_id, now + dt.timedelta(seconds=1))])
    add_job_row(db, "late", misfire_grace_seconds=1)
    with db.write_connection() as connection:
        fires += fired(connection, [Fire("late", now - dt.timedelta(seconds=3))])
        claimed = claim(connection, "w2", 30, fires, SETTINGS)
    assert claimed.started == {}
    with db.read() as session:
        statuses = sorted(
            session.scalars(
                select(Execution.status).where(Execution.id.in_([f.execution_id for f in fires]))
            ).all()
        )
    assert statuses == ["missed", "skipped", "skipped"]
