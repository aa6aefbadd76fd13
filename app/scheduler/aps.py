"""The one place Cronwell overrides APScheduler: the scheduler thread's pass.

APScheduler 3's ``BlockingScheduler._main_loop`` (which ``BackgroundScheduler`` runs in its
thread) waits on its wakeup event, calls its ``_process_jobs`` method, and waits the number of
seconds it returns (``None``: until the next wakeup). Its own ``_process_jobs`` takes the
jobs due *now* and submits them to executors one at a time, writing each back to the
store in a transaction of its own: about 2 ms a job on SQLite, so the thousandth job of
a burst is handed out seconds late, and every commit competes with run recording.

:class:`CronwellScheduler` keeps APScheduler's thread, wakeups, job store and triggers,
and replaces that one method by Cronwell's pass (:class:`app.scheduler.passes.Pass`),
which hands out every fire due within a horizon and writes them with the store's new next
run times in one transaction. Nothing else here, or anywhere in Cronwell, touches a
private name of APScheduler. ``tests/scheduler/test_aps_override.py`` fails if the loop
this relies on changes in an APScheduler upgrade.
"""

from __future__ import annotations

from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED


class CronwellScheduler(BackgroundScheduler):
    """A BackgroundScheduler whose pass is ``run_pass``: it returns the seconds to wait
    before the next pass (None: until a wakeup)."""

    def __init__(self, run_pass: Callable[[], float | None], **options) -> None:
        self.run_pass = run_pass
        super().__init__(**options)

    def _process_jobs(self) -> float | None:  # the override (see the module's docstring)
        if self.state == STATE_PAUSED:
            return None
        return self.run_pass()
