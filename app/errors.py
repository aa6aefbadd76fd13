"""Domain exceptions: raised below the HTTP layer, translated to HTTP once in app.api."""

from __future__ import annotations


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


class InvalidSchedule(ValidationFailed):
    """A schedule (cron, interval or one-shot) that cannot be parsed or never fires."""

    def __init__(self, message: str, field: str = "schedule") -> None:
        super().__init__(field, message)


class JobNotFound(CronwellError):
    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} not found.")


class ExecutionNotFound(CronwellError):
    status = 404

    def __init__(self, job_id: str | None, execution_id: int) -> None:
        of_job = f" of job {job_id!r}" if job_id is not None else ""
        super().__init__(f"Execution {execution_id}{of_job} not found.")


class JobConflict(CronwellError):
    """The request clashes with the job's state (duplicate id, run in progress...)."""

    status = 409


class SchedulerUnavailable(CronwellError):
    status = 503


class DeliveryFailed(CronwellError):
    """A receiver did not take a message (a notification test): 502."""

    status = 502

    def __init__(self, detail: str) -> None:
        super().__init__(f"The receiver did not take the message: {detail}", {"url": [detail]})
