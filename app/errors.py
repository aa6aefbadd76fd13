"""Domain exceptions: raised below the HTTP layer, translated to HTTP once in app.api."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


class CronwellError(Exception):
    """Base class; ``status`` is the HTTP code the API layer answers with."""

    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class ValidationFailed(CronwellError):
    """A value is not acceptable; ``errors`` maps field names to messages."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", {field: [message]})
        self.field = field

    @classmethod
    def of(cls, errors: dict[str, list[str]]) -> ValidationFailed:
        """Several fields refused at once."""
        field, texts = next(iter(errors.items()))
        refused = cls(field, " ".join(texts))
        refused.errors = errors
        refused.message = "; ".join(f"{name}: {' '.join(ms)}" for name, ms in errors.items())
        return refused


class Problems:
    """Checks that may each refuse a field, all run before anything is refused: one
    answer (or one Save of the UI's form) names every field that is wrong."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def check(self, check: Callable[[], T], default: T | None = None) -> T | None:
        """``check()``'s value, or ``default`` with its refusal noted."""
        try:
            return check()
        except ValidationFailed as refused:
            self.note(refused.errors or {})
            return default

    def note(self, errors: Mapping[str, list[str]]) -> None:
        for field, texts in errors.items():
            kept = self.errors.setdefault(field, [])
            kept.extend(text for text in texts if text not in kept)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed.of(self.errors)


class InvalidSchedule(ValidationFailed):
    """A schedule (cron, interval or one-shot) that cannot be parsed or never fires."""

    def __init__(self, message: str, field: str = "schedule") -> None:
        super().__init__(field, message)


class NotFound(CronwellError):
    """Something the request names does not exist (a key, a user, a calendar...)."""

    status = 404


class Conflict(CronwellError):
    """The request clashes with what exists (a taken id or name, a thing in use)."""

    status = 409


class JobNotFound(CronwellError):
    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} not found.")


class ExecutionNotFound(CronwellError):
    status = 404

    def __init__(self, job_id: str | None, execution_id: int) -> None:
        of_job = f" of job {job_id!r}" if job_id is not None else ""
        super().__init__(f"Execution {execution_id}{of_job} not found.")


class JobConflict(Conflict):
    """The request clashes with the job's state (duplicate id, run in progress...)."""


class RunInProgress(JobConflict):
    """A run-now of a job whose overlap_policy is skip, while ``execution_id`` runs."""

    def __init__(self, job_id: str, execution_id: int) -> None:
        super().__init__(
            f"Job {job_id!r} is already running (execution {execution_id}) and its "
            "overlap_policy is skip.",
            {"overlap_policy": ["A run is in progress."]},
        )
        self.execution_id = execution_id


class MonitorRunsNothing(JobConflict):
    """A run asked of a heartbeat monitor: it runs nothing (the job it watches pings)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"Job {job_id!r} is a heartbeat monitor: it runs nothing. The job it watches "
            "pings its ping_url.",
            {"type": ["A heartbeat monitor is pinged, not run."]},
        )


class SchedulerUnavailable(CronwellError):
    status = 503


class DatabaseUnavailable(CronwellError):
    """The database is away or busy for now (:func:`app.db.database_unavailable`): 503,
    to be tried again after ``Retry-After`` seconds."""

    status = 503
    RETRY_AFTER_SECONDS = 5

    def __init__(self) -> None:
        super().__init__("The database is unavailable at the moment; try again shortly.")
        self.headers = {"Retry-After": str(self.RETRY_AFTER_SECONDS)}


class DeliveryFailed(CronwellError):
    """A receiver did not take a message (a notification test): 502."""

    status = 502

    def __init__(self, detail: str) -> None:
        super().__init__(f"The receiver did not take the message: {detail}", {"url": [detail]})


class TooManyRequests(CronwellError):
    """Too many requests from one address or to one thing: 429, with ``Retry-After``."""

    status = 429

    def __init__(self, message: str, wait: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(wait)}


class Forbidden(CronwellError):
    """The caller's role does not allow this (the message names the role needed)."""

    status = 403
