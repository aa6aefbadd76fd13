"""The worker threads that run handlers, and what one attempt of a run is.

A worker runs one attempt at a time for the life of the process. When every worker is
busy a new one starts (a handler that ignores its timeout keeps a thread, never a slot:
the runner frees the slot at the deadline), and the pool never shrinks: a thread start
waits for the GIL, which under a burst was a tenth of the runner's time.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.config import Settings
from app.db import utcnow
from app.jobtypes import JobTypeRegistry
from app.jobtypes.base import RunContext, RunResult
from app.scheduler.recorder import next_retry_at
from app.scheduler.stages import OutcomeRecord, RunSpec
from app.statuses import Status

logger = logging.getLogger("cronwell.runner")


@dataclass
class Attempt:
    """One attempt of a run, from its start to its outcome."""

    execution_id: int
    job_id: str
    attempt: int
    retry_of: int | None
    started_at: dt.datetime
    started_mono: float
    context: RunContext
    max_duration: int
    retry_count: int
    retry_delay: int
    configuration_overrides: dict | None = None  # run-now's (its retries keep them)
    #: When (time.monotonic()) it becomes slow, until the runner has said so (then None).
    slow_at: float | None = None

    @classmethod
    def claimed(
        cls,
        spec: RunSpec,
        started_at: dt.datetime,
        start_mono: float,
        worker: str,
        settings: Settings,
    ) -> Attempt:
        """The attempt of a run ``worker`` claimed, to start at ``start_mono``."""
        context = RunContext(
            job_id=spec.job_id,
            execution_id=spec.execution_id,
            job_type=spec.type,
            configuration={**(spec.configuration or {}), **(spec.configuration_overrides or {})},
            deadline=start_mono + spec.max_duration_seconds,
            settings=settings,
            worker=worker,
            scheduled_at=spec.scheduled_at,
            trigger=spec.trigger,
        )
        return cls(
            execution_id=spec.execution_id,
            job_id=spec.job_id,
            attempt=spec.attempt,
            retry_of=spec.retry_of,
            started_at=started_at,
            started_mono=start_mono,
            context=context,
            max_duration=spec.max_duration_seconds,
            retry_count=spec.retry_count,
            retry_delay=spec.retry_delay_seconds,
            configuration_overrides=spec.configuration_overrides,
            slow_at=(
                start_mono + spec.expected_duration_seconds
                if spec.expected_duration_seconds
                else None
            ),
        )

    def timeout_message(self) -> str:
        return f"Timed out after max_duration_seconds={self.max_duration}."


#: What a worker reports: the attempt, its status and the handler's result.
Done = Callable[[Attempt, str, RunResult], None]


class Workers:
    """Runs attempts on worker threads and reports each with ``done``."""

    def __init__(self, registry: JobTypeRegistry, done: Done) -> None:
        self.registry = registry
        self.done = done
        self._work: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def run(self, attempt: Attempt) -> None:
        """Hand ``attempt`` to an idle worker, or to a new one."""
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that worker takes this attempt (or an equal one)
        self._work.put(attempt)
        if spawn:
            threading.Thread(target=self._loop, name="cronwell-run", daemon=True).start()

    def _loop(self) -> None:
        while True:
            attempt = self._work.get()
            try:
                status, result = self._execute(attempt)
                self.done(attempt, status, result)
            except Exception:
                logger.exception("Finishing execution %d failed", attempt.execution_id)
            finally:
                with self._lock:
                    self._idle += 1

    def _execute(self, attempt: Attempt) -> tuple[str, RunResult]:
        try:
            job_type = self.registry.types.get(attempt.context.job_type)
            if job_type is None:
                raise LookupError(f"Job type {attempt.context.job_type!r} is not registered.")
            result = job_type.run(attempt.context)
        except Exception as exc:
            logger.exception("Execution %d of job %r raised", attempt.execution_id, attempt.job_id)
            result = RunResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if attempt.context.remaining() <= 0:
            # The handler saw its deadline before the runner did: still a timeout.
            result.error = attempt.timeout_message()
            return Status.TIMEOUT, result
        return (Status.SUCCESS if result.ok else Status.FAILED), result


def outcome_of(attempt: Attempt, status: str, result: RunResult) -> OutcomeRecord:
    """The attempt's outcome as the recorder writes it, with its retry's time when
    another attempt follows (a failure or timeout with retries left)."""
    finished_at = utcnow()
    retry_at = None
    if status in (Status.FAILED, Status.TIMEOUT) and attempt.attempt <= attempt.retry_count:
        retry_at = next_retry_at(finished_at, attempt.retry_delay, attempt.attempt)
    output, truncated = result.output, result.output_truncated
    if output is None:
        # A handler still running (timed out, cancelled) has reported nothing yet:
        # what it printed so far stands until it returns.
        _, live, truncated = attempt.context.output.snapshot()
        output = live or None
    return OutcomeRecord(
        execution_id=attempt.execution_id,
        job_id=attempt.job_id,
        status=status,
        started_at=attempt.started_at,
        finished_at=finished_at,
        duration_ms=int((time.monotonic() - attempt.started_mono) * 1000),
        result=result.result or None,
        output=output,
        output_truncated=truncated,
        error=result.error,
        retry_at=retry_at,
        attempt=attempt.attempt,
        retry_of=attempt.retry_of,
        configuration_overrides=attempt.configuration_overrides,
    )
