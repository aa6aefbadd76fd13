"""Job schemas for /api/jobs: what a client may send, and what a job looks like."""

from typing import Any

from marshmallow import Schema, fields, validate

from app.headers import public_base_url
from app.schemas.executions import ExecutionSchema
from app.schemas.fields import (
    MAX_CHAIN,
    MAX_TAGS,
    TAG_PATTERN,
    StrictBoolean,
    StrictInteger,
    job_id_field,
    tag_field,
)
from app.schemas.pagination import PageArgs
from app.services import notifications, pings, secrets
from app.services.job_reads import describe_schedule, schedule_text
from app.services.jobs import SCHEDULE_TYPES
from app.statuses import ALL_STATUSES


class NotifySchema(Schema):
    """Which events of a job's runs go to which URLs."""

    on = fields.List(
        fields.String(validate=validate.OneOf(notifications.EVENTS)),
        validate=validate.Length(max=len(notifications.EVENTS)),
        metadata={
            "description": "failure (final failed, timeout or interrupted, after the last "
            "retry), recovery (a success after a failure), missed, success. Default: "
            + ", ".join(notifications.DEFAULT_EVENTS)
            + "."
        },
    )
    urls = fields.List(
        fields.String(validate=validate.Length(min=1, max=2000)),
        required=True,
        validate=validate.Length(max=notifications.MAX_URLS),
        metadata={
            "description": "http(s):// URLs get a JSON POST; slack://, discord://, "
            "mailto://, ntfy://, msteams://, ... go through apprise. Answers show them with "
            "passwords and tokens masked; a masked URL sent back keeps the one it masks."
        },
    )


def chain_field(outcome: str) -> fields.List:
    """A list of jobs to run when a run of this job ends ``outcome``."""
    return fields.List(
        job_id_field(),
        validate=validate.Length(max=MAX_CHAIN),
        metadata={
            "description": f"Jobs that get a run (trigger chain) when a run of this one "
            f"ends {outcome}, after its last retry. Unknown or deleted ids and loops are "
            "refused."
        },
    )


class ScheduleFieldsSchema(Schema):
    """A schedule as a client sends it: for jobs, and for previews."""

    schedule_type = fields.String(validate=validate.OneOf(SCHEDULE_TYPES))
    schedule_config = fields.Dict(
        metadata={
            "description": 'cron: {"expression": "0 2 * * *"}; interval: {"every": "15m"}; '
            'once: {"run_at": "2026-12-01T09:00:00+00:00"}.'
        }
    )
    schedule = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The schedule as one string ('0 2 * * *', '15m' or an ISO time), "
            "instead of schedule_type + schedule_config (never both)."
        },
    )
    timezone = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "IANA name the cron is read in; default from config (UTC)."},
    )


class JobFieldsSchema(ScheduleFieldsSchema):
    """The fields a client sets, shared by create and update (bounds in one place)."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    type = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A registered job type; GET /api/job-types lists them."},
    )
    configuration = fields.Dict(
        allow_none=True, metadata={"description": "Validated by the type's own schema."}
    )
    is_enabled = StrictBoolean()
    max_duration_seconds = StrictInteger(
        validate=validate.Range(1, 86400),
        metadata={"description": "Per attempt; the run is ended and recorded timeout."},
    )
    retry_count = StrictInteger(validate=validate.Range(0, 10))
    retry_delay_seconds = StrictInteger(
        validate=validate.Range(1, 86400),
        metadata={"description": "Delay before the first retry; doubles each retry."},
    )
    overlap_policy = fields.String(
        validate=validate.OneOf(("skip", "allow")),
        metadata={"description": "skip: a fire while a run is going is recorded skipped."},
    )
    misfire_grace_seconds = StrictInteger(
        validate=validate.Range(1, 7 * 86400),
        metadata={"description": "A fire later than this is recorded missed."},
    )
    notify = fields.Nested(
        NotifySchema,
        allow_none=True,
        metadata={
            "description": "Where this job's notifications go; null: the service's "
            "CRONWELL_NOTIFY_URLS and CRONWELL_NOTIFY_ON."
        },
    )
    tags = fields.List(
        tag_field(),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": f"Labels, at most {MAX_TAGS}; GET /api/jobs?tag= filters."},
    )
    on_success = chain_field("in success")
    on_failure = chain_field("failed or timeout")
    calendars = fields.List(
        fields.String(validate=validate.Length(1, 100)),
        validate=validate.Length(max=20),
        metadata={
            "description": "Calendar ids (GET /api/calendars): a fire in any of them is "
            "recorded skipped ('calendar <id>'), and next_run_at is the next fire that runs. "
            "Run-now ignores them."
        },
    )
    expected_duration_seconds = StrictInteger(
        allow_none=True,
        validate=validate.Range(1, 86400),
        metadata={
            "description": "A run still going past this many seconds is slow: its "
            "execution gets slow: true and the job's notify URLs (or the service's) get the "
            "event slow, once per run; the run goes on until max_duration_seconds. null: "
            "none."
        },
    )
    jitter_seconds = StrictInteger(
        validate=validate.Range(0, 3600),
        metadata={
            "description": "Each scheduled fire starts up to this many seconds after its "
            "time, at random (next_run_at and lateness count from the time before it)."
        },
    )
    run_on = fields.Dict(
        keys=tag_field(),
        values=fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=MAX_TAGS),
        metadata={
            "description": 'Labels ({"role": "db"}): only workers whose '
            "CRONWELL_WORKER_LABELS have all of them run the job. A due run with no such "
            "worker alive stays queued, and is missed after misfire_grace_seconds."
        },
    )
    concurrency_group = fields.String(
        allow_none=True,
        validate=validate.Regexp(TAG_PATTERN, error="Must be a name like a tag."),
        metadata={
            "description": "At most CRONWELL_CONCURRENCY_GROUPS[name] runs of this group's "
            "jobs at once, across every worker; the others wait queued in fire order. A "
            "group the configuration does not name is refused."
        },
    )


class JobCreateSchema(JobFieldsSchema):
    id = job_id_field(metadata={"description": "Chosen by the client, or a generated UUID."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.Length(min=1, max=64))


class JobUpdateSchema(JobFieldsSchema):
    """Every field optional; the ones given are changed. An empty body is refused."""


def _ping_url(job) -> str | None:
    """A monitor's ping URL (the base URL is looked up only for monitors: a page of the
    job list dumps fifty jobs)."""
    key = getattr(job, "ping_key", None)
    return pings.ping_url(key, public_base_url()) if key else None


class JobSchema(Schema):
    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        """A job's field is its attribute (a Job, or a listed row's namespace): read
        with getattr, a third cheaper than marshmallow's lookup for any object, dict or
        dotted path (a page dumps 37 fields of fifty jobs)."""
        return getattr(obj, attr, default)

    id = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    type = fields.String(dump_only=True)
    configuration = fields.Function(
        lambda job: secrets.shown_configuration(job.configuration),
        dump_only=True,
        metadata={
            "type": "object",
            "description": "Secrets (auth.password, secret headers and env values) show as "
            f"{secrets.MASK!r} but to admins; sending the mask back keeps the stored value.",
        },
    )
    schedule_type = fields.String(dump_only=True, metadata={"enum": list(SCHEDULE_TYPES)})
    schedule_config = fields.Dict(dump_only=True)
    schedule = fields.Function(schedule_text, dump_only=True, metadata={"type": "string"})
    schedule_description = fields.Function(
        describe_schedule,
        dump_only=True,
        metadata={"type": "string", "description": "e.g. 'At 02:00 AM', 'Every 15 minutes'."},
    )
    timezone = fields.String(dump_only=True)
    is_enabled = fields.Boolean(dump_only=True)
    max_duration_seconds = fields.Integer(dump_only=True)
    retry_count = fields.Integer(dump_only=True)
    retry_delay_seconds = fields.Integer(dump_only=True)
    overlap_policy = fields.String(dump_only=True)
    misfire_grace_seconds = fields.Integer(dump_only=True)
    next_run_at = fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "null when disabled, deleted or finished."},
    )
    last_run_at = fields.DateTime(dump_only=True, allow_none=True)
    last_status = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Of the latest attempt that ran (not skipped or missed)."},
    )
    last_duration_ms = fields.Integer(dump_only=True, allow_none=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    run_count = fields.Integer(dump_only=True)
    success_count = fields.Integer(dump_only=True)
    fail_count = fields.Integer(
        dump_only=True, metadata={"description": "failed + timeout + interrupted attempts."}
    )
    notify = fields.Function(
        lambda job: secrets.shown_notify(job.notify),
        dump_only=True,
        metadata={
            "type": "object",
            "nullable": True,
            "properties": {
                "on": {"type": "array", "items": {"type": "string"}},
                "urls": {"type": "array", "items": {"type": "string"}},
            },
            "description": "URLs with passwords and tokens masked but for admins; null: the "
            "service's defaults.",
        },
    )
    tags = fields.List(fields.String(), dump_only=True)
    on_success = fields.List(fields.String(), dump_only=True)
    on_failure = fields.List(fields.String(), dump_only=True)
    jitter_seconds = fields.Integer(dump_only=True)
    expected_duration_seconds = fields.Integer(dump_only=True, allow_none=True)
    calendars = fields.List(fields.String(), dump_only=True)
    ping_url = fields.Function(
        _ping_url,
        dump_only=True,
        metadata={
            "type": "string",
            "nullable": True,
            "description": "A heartbeat monitor's ping URL (null for other types): a secret, "
            f"{secrets.MASK!r} but to admins. Built on CRONWELL_PUBLIC_URL, else on the "
            "address the request came to.",
        },
    )
    run_on = fields.Dict(keys=fields.String(), values=fields.String(), dump_only=True)
    concurrency_group = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    deleted_at = fields.DateTime(dump_only=True, allow_none=True)


class JobDetailSchema(JobSchema):
    recent_executions = fields.List(
        fields.Nested(ExecutionSchema), dump_only=True, metadata={"description": "Newest 10."}
    )


class JobListArgs(PageArgs):
    type = fields.String(validate=validate.Length(min=1, max=64))
    is_enabled = fields.Boolean()
    last_status = fields.String(validate=validate.OneOf(ALL_STATUSES))
    q = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"description": "Name contains."}
    )
    include_deleted = fields.Boolean(load_default=False)
    tag = fields.List(
        tag_field(),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": "Jobs that have this tag; repeated, jobs that have all."},
    )
