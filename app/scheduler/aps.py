"""APScheduler as Cronwell uses it: its job store and triggers, and Cronwell's pass in a
thread of its own. No private name of APScheduler is read or replaced.

APScheduler 3's scheduler thread would submit each due job to an executor and write it
back in a transaction of its own (about 2 ms a job on SQLite: the thousandth job of a
burst handed out seconds late), and drop fires more than a second late. Cronwell keeps
APScheduler's job store (:mod:`app.scheduler.store`), its triggers and its ``add_job`` and
``remove_job``, through a scheduler that is started *paused* and stays so
(:func:`store_scheduler`): a paused APScheduler processes no jobs. The fires are handed
out by Cronwell's pass (:class:`app.scheduler.passes.Pass`), which :class:`PassLoop`
runs: at start, whenever it is woken (a job change applied to the store), and when the
seconds the last pass returned are over.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.schedulers.background import BackgroundScheduler

logger = logging.getLogger("cronwell.scheduler")


def store_scheduler(store: BaseJobStore) -> BackgroundScheduler:
    """An APScheduler over ``store``, started paused: it adds and removes jobs (with their
    triggers' next run times) and never runs one."""
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=dt.UTC)
    scheduler.start(paused=True)
    return scheduler


class PassLoop:
    """The leader's scheduler thread: runs ``run_pass``, then waits the seconds it returns
    (None: until woken)."""

    def __init__(self, run_pass: Callable[[], float | None]) -> None:
        self.run_pass = run_pass
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="cronwell-passes", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Pass again now (a job's next run time may have moved earlier)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                wait = self.run_pass()
            except Exception:  # the pass logs its own failures; never end the thread
                logger.exception("A scheduler pass raised")
                wait = 1.0
            self._wake.wait(wait)
