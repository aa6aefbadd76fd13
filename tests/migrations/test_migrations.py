"""Schema migrations: the models' schema is what the migrations make, a 0.1.0 database
upgrades in place with everything kept, and instances starting together on one new
database all come up (one migrates, the others wait)."""

import datetime as dt
import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert, text

from app.migrate import BEFORE_MIGRATIONS, HEAD, upgrade_database
from app.models import Base
from tests.support import scrape

PARTIAL = ("ix_jobs_sync_pending", "ux_executions_fire", "ix_executions_backfill")


def test_head_names_the_latest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.migrate import HEAD, SCRIPTS

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_the_migrations_make_the_models_schema(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade_database(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    # The partial indexes are DDL of their own (app.models), not in the metadata.
    partial = [d for d in differences if d[0] == "remove_index" and d[1].name in PARTIAL]
    assert sorted(d[1].name for d in partial) == sorted(PARTIAL)
    assert [d for d in differences if d not in partial] == []


def _old_job(job_id: str, **fields) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": job_id, "name": job_id, "type": "http", "configuration": {"url": "http://127.0.0.1:9/"},
        "schedule_type": "interval", "schedule_config": {"every": "1h"}, "timezone": "UTC",
        "is_enabled": True, "max_duration_seconds": 300, "retry_count": 0,
        "retry_delay_seconds": 10, "overlap_policy": "skip", "misfire_grace_seconds": 60,
        "run_count": 0, "success_count": 0, "fail_count": 0, "created_at": now,
        "updated_at": now, "version": 1, "sync_pending": True, "last_status": None,
        "deleted_at": None, **fields,
    }  # fmt: skip


def test_a_database_written_by_0_1_0_upgrades_with_every_row_kept(start_service, tmp_path):
    """0.1.0 made its tables (the first migration's schema) and had no migrations."""
    path = tmp_path / "cronwell.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade_database(engine, BEFORE_MIGRATIONS)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    old = MetaData()  # the tables as 0.1.0 has them
    old.reflect(engine)
    finished = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(
            insert(old.tables["jobs"]),
            [
                _old_job("kept", run_count=7, success_count=5, fail_count=2, last_status="failed"),
                _old_job("gone", deleted_at=finished),
            ],
        )
        connection.execute(
            insert(old.tables["executions"]),
            [
                {"job_id": "kept", "status": s, "trigger": "schedule", "attempt": 1,
                 "scheduled_at": finished + dt.timedelta(minutes=i), "finished_at": finished,
                 "created_at": finished, "output_truncated": False, "cancel_requested": False}
                for i, s in enumerate(("success", "failed", "missed"))
            ],
        )  # fmt: skip
    engine.dispose()
    service = start_service(workdir=tmp_path)
    job = service.get("/api/jobs/kept").json()
    assert (job["run_count"], job["success_count"], job["fail_count"]) == (7, 5, 2)
    assert [e["status"] for e in service.executions("kept")] == ["missed", "failed", "success"]
    assert service.get("/api/jobs/gone").status_code == 404
    listed = service.get("/api/jobs", params={"include_deleted": "true"}).json()
    assert {j["id"] for j in listed} == {"kept", "gone"}
    assert job["next_run_at"] is not None  # scheduled again by the leader
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    # The history is counted, for /metrics.
    totals = {
        (s.labels["job_id"], s.labels["status"]): s.value
        for s in scrape(service, "cronwell_executions_total")
    }
    assert totals == {("kept", "success"): 1, ("kept", "failed"): 1, ("kept", "missed"): 1}
    # Each job gets revision 1, as it stands, by the system.
    for job_id, deleted in (("kept", False), ("gone", True)):
        revisions = service.get(f"/api/jobs/{job_id}/revisions").json()
        assert [(r["revision"], r["actor"], r["changes"]) for r in revisions] == [(1, "system", {})]
        first = service.get(f"/api/jobs/{job_id}/revisions/1").json()["definition"]
        assert (first["name"], first["deleted"]) == (job_id, deleted)
    service.put("/api/jobs/kept", json={"name": "kept, renamed"})
    second = service.get("/api/jobs/kept/revisions").json()[0]
    assert (second["revision"], second["changes"]) == (2, {"name": ["kept", "kept, renamed"]})


def test_instances_starting_together_on_a_new_sqlite_file_all_come_up(start_service, tmp_path):
    services = [start_service(workdir=tmp_path, wait=False) for _ in range(3)]
    for service in services:
        service.wait_healthy()
    with sqlite3.connect(tmp_path / "cronwell.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_a_real_0_1_0_database_keeps_every_schedule(start_service, tmp_path):
    """tests/fixtures/cronwell-0.1.0.db was written by this repository's commit 6b2178c
    (tests/fixtures/make_0_1_0_db.py): its cron job's store row names a trigger class
    that no longer exists. The row is rebuilt from the job, not dropped."""
    import pickle
    import shutil
    import time
    from zoneinfo import ZoneInfo

    from tests.support import ROOT, wait_for

    shutil.copy(ROOT / "tests" / "fixtures" / "cronwell-0.1.0.db", tmp_path / "cronwell.db")
    service = start_service(workdir=tmp_path)
    paris = ZoneInfo("Europe/Paris")

    def next_runs() -> dict:
        return {j["id"]: j["next_run_at"] for j in service.get("/api/jobs").json()}

    nightly = dt.datetime.fromisoformat(wait_for(lambda: next_runs()["nightly"]))
    assert (nightly.astimezone(paris).hour, nightly.astimezone(paris).minute) == (2, 30)
    runs = next_runs()
    assert runs["every-5m"] is not None and runs["weekdays"] is None
    assert runs["one-shot"] == "2099-01-01T09:00:00+00:00"
    time.sleep(2)  # passes go by: APScheduler reads the rows and drops none
    assert next_runs()["nightly"] == nightly.isoformat()
    with sqlite3.connect(tmp_path / "cronwell.db") as db:
        states = dict(db.execute("SELECT id, job_state FROM apscheduler_jobs").fetchall())
    assert sorted(states) == ["every-5m", "nightly", "one-shot"]
    for state in states.values():
        pickle.loads(state)  # every row loads in this version
    assert "Rebuilding 1 store row(s) this version cannot load: nightly" in service.log()
    history = service.executions("nightly")
    assert [(e["status"], e["trigger"]) for e in history] == [("success", "manual")]


def test_the_store_is_checked_again_only_by_a_leader_of_another_format(start_service, tmp_path):
    """A takeover checks that every store row loads (and rebuilds those that do not) once
    per format of the rows: a restart of the same version skips it, a leader of another
    version (say, after a downgrade) checks again."""
    from tests.support import wait_for

    first = start_service(workdir=tmp_path)
    assert first.post("/api/jobs", json={
        "id": "hourly", "name": "hourly", "type": "shell", "configuration": {"command": "true"},
        "schedule": "1h",
    }).status_code == 201  # fmt: skip

    def read(query: str) -> list:
        with sqlite3.connect(tmp_path / "cronwell.db") as db:
            return db.execute(query).fetchall()

    def checked_by() -> str | None:
        return read("SELECT store_checked_by FROM scheduler_state")[0][0]

    wait_for(lambda: read("SELECT id FROM apscheduler_jobs"))  # the leader put it in
    wait_for(lambda: "Every store row loads in this version" in first.log())

    format_ = checked_by()
    assert format_ is not None
    first.stop()

    # Another version led since, and wrote the row in a form this one cannot load; the
    # row's fire is an hour away, so the check in the background finds it.
    with sqlite3.connect(tmp_path / "cronwell.db") as db:
        db.execute("UPDATE scheduler_state SET store_checked_by = 'another version'")
        db.execute("UPDATE apscheduler_jobs SET job_state = ? WHERE id = 'hourly'",
                   (b"capp.scheduler.gone\nGone\n.",))  # fmt: skip
    second = start_service(workdir=tmp_path)
    wait_for(lambda: "Every store row loads in this version" in second.log())
    assert "Rebuilding 1 store row(s) this version cannot load: hourly" in second.log()
    assert checked_by() == format_
    assert second.get("/api/jobs/hourly").json()["next_run_at"] is not None
    second.stop()

    third = start_service(workdir=tmp_path)
    wait_for(lambda: "checked by a leader of this version's format" in third.log())
    assert "Every store row loads" not in third.log()
    assert third.get("/api/jobs/hourly").json()["next_run_at"] is not None
