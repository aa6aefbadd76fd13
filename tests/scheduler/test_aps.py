"""APScheduler as Cronwell uses it (app/scheduler/aps.py): a paused scheduler that only
keeps the store, and Cronwell's pass in a thread of its own."""

import datetime as dt
import itertools
import threading
import time

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.interval import IntervalTrigger

from app.scheduler.aps import PassLoop, store_scheduler
from app.scheduler.dispatch import fire


def test_the_store_s_scheduler_adds_jobs_and_never_runs_one():
    store = MemoryJobStore()
    scheduler = store_scheduler(store)
    try:
        due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        scheduler.add_job(fire, IntervalTrigger(seconds=1), args=["x"], id="x", next_run_time=due)
        time.sleep(0.3)
        # A running APScheduler would have run it and moved its next run time on.
        assert store.lookup_job("x").next_run_time == due
        assert [job.id for job in store.get_due_jobs(dt.datetime.now(dt.UTC))] == ["x"]
    finally:
        scheduler.shutdown(wait=False)


def test_the_pass_runs_at_start_when_woken_and_when_its_wait_is_over():
    calls: list[float] = []
    answer = {"wait": None}
    called = threading.Event()

    def run_pass():
        calls.append(time.monotonic())
        called.set()
        return answer["wait"]

    loop = PassLoop(run_pass)
    loop.start()
    try:
        assert called.wait(2), "a pass runs at start"
        time.sleep(0.2)
        assert len(calls) == 1, "None: no pass until woken"
        answer["wait"] = 0.05
        loop.wake()
        time.sleep(0.3)
        gaps = [b - a for a, b in itertools.pairwise(calls[1:])]
        assert len(calls) >= 4 and all(gap >= 0.045 for gap in gaps), calls
        assert loop.running
    finally:
        loop.stop()
    stopped_at = len(calls)
    time.sleep(0.15)
    assert len(calls) == stopped_at and not loop.running
