"""Schemas for the scheduler status, schedule previews, job types and health."""

from marshmallow import Schema, fields, validate

from app.schemas.fields import StrictBoolean, StrictInteger
from app.schemas.jobs import ScheduleFieldsSchema


class LeaderSchema(Schema):
    pid = fields.Integer()
    host = fields.String()
    since = fields.DateTime()
    heartbeat_at = fields.DateTime()
    term = fields.Integer(
        metadata={
            "description": "The leadership number: higher for each new leader. A write "
            "made under an older number is refused by the database."
        }
    )
    lease_until = fields.DateTime(
        allow_none=True,
        metadata={"description": "Until when it leads without a renewal."},
    )


class JobCountsSchema(Schema):
    total = fields.Integer(metadata={"description": "Not deleted."})
    enabled = fields.Integer()
    disabled = fields.Integer()
    deleted = fields.Integer()


class PauseStateSchema(Schema):
    paused = fields.Boolean(
        metadata={"description": "Every scheduled fire is recorded skipped while true."}
    )
    paused_at = fields.DateTime(allow_none=True)
    paused_by = fields.String(allow_none=True, metadata={"description": "The actor."})
    pause_reason = fields.String(allow_none=True)


class PauseRequestSchema(Schema):
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"description": "Said by every fire skipped meanwhile: 'paused: <reason>'."},
    )


class ResumeRequestSchema(Schema):
    catch_up = StrictBoolean(
        load_default=False,
        metadata={
            "description": "One run now (trigger catch_up) of each enabled job that had "
            "fires skipped while paused."
        },
    )


class ResumedSchema(PauseStateSchema):
    catch_up_runs = fields.List(
        fields.Integer(), metadata={"description": "The ids of the catch-up runs queued."}
    )


class SchedulerSchema(PauseStateSchema):
    running = fields.Boolean(metadata={"description": "A scheduler runs (in some process)."})
    active_executions = fields.Integer()
    active_job_ids = fields.List(fields.String())
    queued_executions = fields.Integer()
    max_concurrent = fields.Integer()
    jobs = fields.Nested(JobCountsSchema)
    timezone = fields.String(metadata={"description": "Default timezone of new jobs."})
    version = fields.String()
    uptime_seconds = fields.Float(metadata={"description": "Of the process answering."})
    this_process_leads = fields.Boolean()
    leader = fields.Nested(LeaderSchema, allow_none=True)


class PreviewRequestSchema(ScheduleFieldsSchema):
    count = StrictInteger(load_default=5, validate=validate.Range(1, 100))
    calendars = fields.List(
        fields.String(validate=validate.Length(1, 100)),
        validate=validate.Length(max=20),
        metadata={"description": "Calendar ids: their fires are marked excluded_by, and "
                  "next_run_times holds only the fires that will run."},
    )  # fmt: skip


class PreviewFireSchema(Schema):
    at = fields.DateTime()
    excluded_by = fields.String(
        allow_none=True, metadata={"description": "The calendar that excludes it; null: it runs."}
    )


class PreviewSchema(Schema):
    schedule = fields.String()
    schedule_type = fields.String()
    schedule_config = fields.Dict()
    timezone = fields.String()
    description = fields.String()
    next_run_times = fields.List(fields.DateTime())
    warnings = fields.List(fields.String())
    fires = fields.List(
        fields.Nested(PreviewFireSchema),
        allow_none=True,
        metadata={"description": "With calendars: every fire up to the last of "
                  "next_run_times, each with excluded_by."},
    )  # fmt: skip


class JobTypeSchema(Schema):
    name = fields.String()
    description = fields.String()
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    config_schema = fields.Dict(metadata={"description": "JSON schema of configuration."})


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
    scheduler = fields.String()
