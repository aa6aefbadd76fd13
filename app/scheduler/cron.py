"""The name under which store rows written before 0.2 pickled the cron trigger.

APScheduler's store keeps each job's trigger pickled with its class's import path. The
trigger now lives in :mod:`app.core.cron`; this alias lets rows that name the old path
load as they are (with their next run time, so a fire missed while upgrading is still
recorded). New rows name the new path. A row no alias covers is rebuilt from its job
(:meth:`app.scheduler.sync.StoreSync.reconcile`).
"""

from app.core.cron import CrontabTrigger

__all__ = ["CrontabTrigger"]
