"""The one function every APScheduler job of Cronwell references: ``fire(job_id)``.

APScheduler stores a job with a reference to its function and deletes a stored job whose
function no longer imports, so this module path and signature stay put. The function is
never called: Cronwell's pass (:mod:`app.scheduler.passes`) reads the due jobs from the
store and writes their fires itself; the store only holds the job id, the trigger and the
next fire time, and everything else is read from our tables when a run starts.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("cronwell.scheduler")


def fire(job_id: str) -> None:
    """Stands for the job in the store; a call means APScheduler ran the job itself."""
    logger.error("Job %r was run by APScheduler directly, not by Cronwell's pass", job_id)
