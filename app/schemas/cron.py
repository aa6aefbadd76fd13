"""Schemas of the /api/engine/cron API, as its seed (003_a81654f082713c67) writes them.

Field names, defaults and bounds are the seed's; ``post_load`` hooks translate them to the
service's vocabulary (payload_type -> type; agent_id, payload, session_mode ->
configuration; enabled -> is_enabled) so both APIs share one service.
"""

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from app.errors import ValidationFailed
from app.schemas.fields import StrictBoolean, StrictInteger, job_id_field
from app.services.job_reads import schedule_text
from app.services.jobs import check_schedule_text

PAYLOAD_TYPE = validate.Regexp(
    r"^(prompt|skill|pipeline)$", error="String does not match pattern ^(prompt|skill|pipeline)$."
)
SESSION_MODE = validate.Regexp(
    r"^(isolated|shared|persistent)$",
    error="String does not match pattern ^(isolated|shared|persistent)$.",
)
CONFIG_KEYS = ("agent_id", "payload", "session_mode")


def _check_schedule(value: str) -> None:
    try:
        check_schedule_text(value, "UTC", kinds=("cron", "interval"))
    except ValidationFailed as exc:
        raise ValidationError(f"Invalid schedule expression: {exc.errors['schedule'][0]}") from None


def _to_service(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Seed field names -> the service's job fields."""
    out: dict[str, Any] = {}
    configuration = {k: data[k] for k in CONFIG_KEYS if data.get(k) is not None}
    if configuration or not partial:
        out["configuration"] = configuration
    renames = {"payload_type": "type", "enabled": "is_enabled"}
    for key, value in data.items():
        if key not in CONFIG_KEYS and value is not None:
            out[renames.get(key, key)] = value
    return out


class CronJobCreate(Schema):
    """Request body for creating a cron job."""

    id = job_id_field(
        allow_none=True, metadata={"description": "Job ID (auto-generated if omitted)"}
    )
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Human-readable job name"},
    )
    schedule = fields.String(
        required=True,
        validate=validate.Length(max=100),
        metadata={"description": "Cron expression (5 or 6 field) or interval shorthand (15m, 1h)"},
    )
    agent_id = fields.String(
        load_default="main",
        validate=validate.Length(max=100),
        metadata={"description": "Agent to execute this job"},
    )
    enabled = StrictBoolean(
        load_default=True, metadata={"description": "Whether the job is active"}
    )
    payload_type = fields.String(
        load_default="prompt",
        validate=PAYLOAD_TYPE,
        metadata={"description": "Execution type: prompt, skill, or pipeline"},
    )
    payload = fields.String(
        required=True,
        metadata={"description": "Job payload (prompt text, skill reference, or pipeline name)"},
    )
    session_mode = fields.String(
        load_default="isolated",
        validate=SESSION_MODE,
        metadata={"description": "Session mode: isolated, shared, or persistent"},
    )
    max_duration_seconds = StrictInteger(
        load_default=300,
        validate=validate.Range(10, 3600),
        metadata={"description": "Maximum execution time in seconds"},
    )
    retry_count = StrictInteger(
        load_default=0,
        validate=validate.Range(0, 5),
        metadata={"description": "Number of retry attempts on failure"},
    )

    @validates("schedule")
    def _schedule(self, value: str, **_: Any) -> None:
        _check_schedule(value)

    @post_load
    def _translate(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _to_service(data, partial=False)


class CronJobUpdate(Schema):
    """Request body for updating a cron job (all fields optional; null means absent)."""

    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    schedule = fields.String(allow_none=True, validate=validate.Length(max=100))
    agent_id = fields.String(allow_none=True, validate=validate.Length(max=100))
    enabled = StrictBoolean(allow_none=True)
    payload_type = fields.String(allow_none=True, validate=PAYLOAD_TYPE)
    payload = fields.String(allow_none=True)
    session_mode = fields.String(allow_none=True, validate=SESSION_MODE)
    max_duration_seconds = StrictInteger(allow_none=True, validate=validate.Range(10, 3600))
    retry_count = StrictInteger(allow_none=True, validate=validate.Range(0, 5))

    @validates("schedule")
    def _schedule(self, value: str | None, **_: Any) -> None:
        if value is not None:
            _check_schedule(value)

    @post_load
    def _translate(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _to_service(data, partial=True)


def _config(key: str):
    return lambda job: (job.configuration or {}).get(key, "")


class CronJobResponse(Schema):
    """Response model for a cron job."""

    id = fields.String()
    name = fields.String()
    schedule = fields.Function(schedule_text, metadata={"type": "string"})
    agent_id = fields.Function(_config("agent_id"), metadata={"type": "string"})
    enabled = fields.Boolean(attribute="is_enabled")
    payload_type = fields.String(attribute="type")
    session_mode = fields.Function(_config("session_mode"), metadata={"type": "string"})
    last_run_at = fields.DateTime(allow_none=True)
    last_status = fields.String(allow_none=True)
    last_duration_ms = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_run_at = fields.DateTime(allow_none=True)
    run_count = fields.Integer()
    success_count = fields.Integer()
    fail_count = fields.Integer()
    created_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


class CronJobListResponse(Schema):
    """Response for listing cron jobs."""

    total = fields.Integer()
    jobs = fields.List(fields.Nested(CronJobResponse))
    scheduler_running = fields.Boolean()


class CronHistoryEntry(Schema):
    """Single execution history entry."""

    id = fields.Raw(allow_none=True)
    action = fields.String()
    skill = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    success = fields.Boolean(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)


class CronHistoryResponse(Schema):
    """Response for job execution history."""

    job_id = fields.String()
    total = fields.Integer()
    entries = fields.List(fields.Nested(CronHistoryEntry))


class CronHistoryArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class SchedulerStatusResponse(Schema):
    """Scheduler status summary."""

    running = fields.Boolean()
    active_executions = fields.Integer()
    active_job_ids = fields.List(fields.String())
    max_concurrent = fields.Integer()


class TriggerResponse(Schema):
    """Response after manually triggering a job."""

    triggered = fields.Boolean()
    job_id = fields.String()
    message = fields.String()
