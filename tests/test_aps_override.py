"""The one override of APScheduler (app/scheduler/aps.py) still fits the APScheduler
installed: this fails when an upgrade changes the loop the override relies on.

CronwellScheduler replaces ``_process_jobs``, which APScheduler 3's scheduler thread
(``BlockingScheduler._main_loop``) calls after each wakeup, waiting the seconds it
returns. If an upgrade changes that loop, read the new one, check the override against
it, and record the new loop here.
"""

import inspect
import itertools
import threading
import time

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from app.scheduler.aps import CronwellScheduler

#: APScheduler 3.11's scheduler loop, as the override was written against it.
MAIN_LOOP = """    def _main_loop(self):
        wait_seconds = TIMEOUT_MAX
        while self.state != STATE_STOPPED:
            self._event.wait(wait_seconds)
            self._event.clear()
            wait_seconds = self._process_jobs()
"""


def test_apscheduler_s_loop_is_the_one_the_override_was_written_for():
    assert inspect.getsource(BlockingScheduler._main_loop) == MAIN_LOOP
    assert callable(BaseScheduler._process_jobs)  # the method replaced
    assert "_process_jobs" in CronwellScheduler.__dict__


def test_the_pass_runs_after_a_wakeup_and_again_when_its_wait_is_over():
    calls: list[float] = []
    answer = {"wait": None}
    called = threading.Event()

    def run_pass():
        calls.append(time.monotonic())
        called.set()
        return answer["wait"]

    scheduler = CronwellScheduler(run_pass)
    scheduler.start()
    try:
        assert called.wait(2), "the pass runs when the scheduler starts"
        time.sleep(0.2)
        assert len(calls) == 1, "None: no pass until a wakeup"
        answer["wait"] = 0.05
        scheduler.wakeup()
        time.sleep(0.3)
        gaps = [b - a for a, b in itertools.pairwise(calls[1:])]
        assert len(calls) >= 4 and all(gap >= 0.045 for gap in gaps), calls
        scheduler.pause()
        paused_at = len(calls)
        scheduler.wakeup()
        time.sleep(0.15)
        assert len(calls) == paused_at, "a paused scheduler runs no pass"
    finally:
        scheduler.shutdown(wait=False)
