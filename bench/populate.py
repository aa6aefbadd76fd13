"""Fill databases fast for the large workloads: rows written in bulk, as the apps write them.

Job store rows are APScheduler ``Job`` states pickled exactly as ``SQLAlchemyJobStore``
pickles them, so each system starts on a store it could have written itself.
"""

import datetime as dt
import pickle
import random

from apscheduler.job import Job as APSJob
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import MetaData, create_engine, insert, text

from app.core.cron import CrontabTrigger
from app.db import make_engine
from app.migrate import upgrade_database
from app.models import Execution, Job, job_store_table
from app.scheduler.dispatch import fire
from app.services.jobs import DEFAULTS

CHUNK = 20_000
#: The service's defaults for what the bench does not set (the API's own defaults).
JOB_DEFAULTS = {k: v for k, v in DEFAULTS.items() if k != "configuration"}


def _store_row(scheduler, job_id: str, func, args, trigger, now) -> dict:
    """A store row (either system's): an APScheduler Job pickled as SQLAlchemyJobStore does."""
    job = APSJob(
        scheduler, id=job_id, func=func, args=args, kwargs={}, name=job_id, trigger=trigger,
        executor="default", misfire_grace_time=60, coalesce=False, max_instances=1,
        next_run_time=trigger.get_next_fire_time(None, now),
    )  # fmt: skip
    return {
        "id": job_id,
        "next_run_time": job.next_run_time.timestamp(),
        "job_state": pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL),
    }


def cronwell(db_url: str, jobs: int, executions: int, recorder: str) -> list[str]:
    """``jobs`` http jobs (hourly cron, a far-off fire) and ``executions`` finished runs."""
    engine = make_engine(db_url)
    upgrade_database(engine)
    now = dt.datetime.now(dt.UTC)
    ids = [f"job-{i:05d}" for i in range(jobs)]
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    job_rows, store_rows = [], []
    for i, job_id in enumerate(ids):
        expression = f"{i % 60} {i % 24} * * *"
        job_rows.append(
            {
                "id": job_id,
                "name": f"Bench job {i}",
                "type": "http",
                "configuration": {
                    "url": f"{recorder}/hit/{job_id}",
                    "method": "GET",
                    "headers": {},
                    "params": {},
                },
                "schedule_type": "cron",
                "schedule_config": {"expression": expression},
                "timezone": "UTC",
                **JOB_DEFAULTS,
                "run_count": 0,
                "success_count": 0,
                "fail_count": 0,
                "created_at": now + dt.timedelta(microseconds=i),
                "updated_at": now,
                "version": 1,
                "sync_pending": False,
            }
        )
        trigger = CrontabTrigger(expression, "UTC")
        store_rows.append(_store_row(scheduler, job_id, fire, [job_id], trigger, now))
    with engine.begin() as conn:
        conn.execute(insert(Job), job_rows)
        conn.execute(insert(job_store_table), store_rows)
    per_job = max(1, executions // max(jobs, 1))
    rng = random.Random(7)
    batch = []
    written = 0
    for i, job_id in enumerate(ids):
        if written >= executions:
            break
        for k in range(per_job):
            at = now - dt.timedelta(hours=per_job - k, minutes=i % 60)
            ok = rng.random() < 0.9
            batch.append(
                {
                    "job_id": job_id,
                    "status": "success" if ok else "failed",
                    "trigger": "schedule",
                    "attempt": 1,
                    "scheduled_at": at,
                    "started_at": at,
                    "finished_at": at + dt.timedelta(milliseconds=40),
                    "duration_ms": 40,
                    "result": {"status_code": 200 if ok else 500},
                    "output": "ok",
                    "output_truncated": False,
                    "created_at": at,
                    "cancel_requested": False,
                }
            )
            written += 1
            if len(batch) >= CHUNK:
                with engine.begin() as conn:
                    conn.execute(insert(Execution), batch)
                batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(Execution), batch)
    with engine.begin() as conn:  # what the recorder keeps as runs finish
        conn.execute(
            text(
                "INSERT INTO execution_counts (job_id, status, count) "
                "SELECT job_id, status, COUNT(*) FROM executions GROUP BY job_id, status"
            )
        )
        conn.execute(
            text(
                "UPDATE jobs SET last_success_at = (SELECT MAX(finished_at) FROM executions e "
                "WHERE e.job_id = jobs.id AND e.status = 'success'), "
                "last_failure_at = (SELECT MAX(finished_at) FROM executions e "
                "WHERE e.job_id = jobs.id AND e.status = 'failed')"
            )
        )
    engine.dispose()
    return ids


def monitors(db_url: str, count: int, recorder: str) -> list[str]:
    """``count`` heartbeat monitors (hourly cron, a far-off fire); their ping keys."""
    import uuid

    ids = cronwell(db_url, count, 0, recorder)
    keys = [str(uuid.uuid4()) for _ in ids]
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET type = 'heartbeat', configuration = '{}', ping_key = :key "
                 "WHERE id = :id"),
            [{"id": job_id, "key": key} for job_id, key in zip(ids, keys, strict=True)],
        )  # fmt: skip
    engine.dispose()
    return keys


def apscheduler_store(db_url: str, jobs: int, recorder: str) -> None:
    """An APScheduler SQLite store (its own default settings) with ``jobs`` hourly jobs."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from bench.peers.tasks import hit

    engine = create_engine(db_url)
    store = SQLAlchemyJobStore(engine=engine, metadata=MetaData())
    store.jobs_t.create(engine, checkfirst=True)
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    rows = [
        _store_row(
            scheduler,
            f"job-{i:05d}",
            hit,
            [f"{recorder}/hit/job-{i:05d}"],
            IntervalTrigger(hours=1, start_date=now + dt.timedelta(seconds=i % 3600)),
            now,
        )
        for i in range(jobs)
    ]
    with engine.begin() as conn:
        conn.execute(text("PRAGMA synchronous=OFF"))
        conn.execute(insert(store.jobs_t), rows)
    engine.dispose()
