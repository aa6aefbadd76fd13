"""Rows tell the truth promptly: a run's row leaves ``queued`` as soon as the run starts,
within about 100 ms alone, and a few tenths of a second at most late in a burst of short
runs, where the recorder's writes share the GIL with the runs (the UI and the running
metric read these rows)."""

import datetime as dt
import sqlite3
import time

from tests.support import wait_for

BURST = 600  # short runs due at once, 10 slots
WATCHED = 500  # a run late in the burst


def _last_read_before(poll, predicate, timeout: float = 10.0) -> float:
    """time.time() at which the last ``poll()`` that did not yet satisfy ``predicate`` was
    sent (polled every 10 ms until one does). A poll's own slowness on a busy machine
    does not count: only what a read made at a given moment saw."""
    deadline = time.monotonic() + timeout
    last = 0.0
    while time.monotonic() < deadline:
        sent = time.time()
        if predicate(poll()):
            return last
        last = sent
        time.sleep(0.01)
    raise AssertionError("never seen")


def test_a_run_reads_running_as_soon_as_it_starts(service, make_job, target):
    job = make_job(configuration={"url": target.url("/slow/2?prompt-alone")})
    execution = service.post(f"/api/jobs/{job['id']}/run").json()
    path = f"/api/jobs/{job['id']}/executions/{execution['id']}"
    queued = _last_read_before(lambda: service.get(path).json()["status"], lambda s: s == "running")
    arrived = wait_for(lambda: target.hits_for("prompt-alone"))[0]["at"]
    late = queued - arrived
    assert late < 0.15, f"a read sent {late:.3f} s after the call arrived saw it queued"


def test_a_burst_s_rows_leave_queued_as_their_runs_start(service, make_job, target):
    """Hundreds of short runs due at once keep the runner starting runs for a while; a row
    late in the burst must not read queued long after its call went out."""
    # After the creates, with room for a busy machine (600 creates took over 8 s there).
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    jobs = [
        make_job(schedule=due.isoformat(), configuration={"url": target.url(f"/ok?flood-{i}")})
        for i in range(BURST)
    ]
    watched = jobs[WATCHED]["id"]
    db = sqlite3.connect(f"file:{service.db_path}?mode=ro", uri=True)
    queued = _last_read_before(
        lambda: db.execute("select status from executions where job_id=?", (watched,)).fetchall(),
        lambda rows: bool(rows) and rows[0][0] != "queued",
        timeout=(due - dt.datetime.now(dt.UTC)).total_seconds() + 10,
    )
    arrived = wait_for(lambda: target.hits_for(f"flood-{WATCHED}"))[0]["at"]
    # Read from the database itself: the API's own latency under a burst is not the row's.
    late = queued - arrived
    assert late < 0.3, f"the row read queued {late:.3f} s after its call"
