"""The one function every APScheduler job references: ``fire(job_id)``.

APScheduler deletes a stored job whose function no longer imports, so this module path
and signature stay put. Everything about the job is read from our tables at run time;
the store only holds the job id, the trigger and the next fire time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

logger = logging.getLogger("cronwell.dispatch")

FireSink = Callable[[str, "dt.datetime | None", Sequence[dt.datetime]], None]
_sink: FireSink | None = None


def set_sink(sink: FireSink | None) -> None:
    """Where fires go in this process (the leader's intake); None when not leading."""
    global _sink
    _sink = sink


def fire(
    job_id: str,
    *,
    scheduled_for: dt.datetime | None = None,
    missed: Sequence[dt.datetime] = (),
) -> None:
    """Record that ``job_id`` is due (``scheduled_for``) and which fires were ``missed``.

    Called by :class:`app.scheduler.executor.IntakeExecutor` with the fire times
    APScheduler meant; a plain call (no times) means "due now".
    """
    if scheduled_for is None and not missed:
        scheduled_for = dt.datetime.now(dt.UTC)
    if _sink is None:
        logger.error("Fire of job %r dropped: this process does not lead", job_id)
        return
    _sink(job_id, scheduled_for, missed)
