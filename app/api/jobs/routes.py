"""Jobs: /api/jobs. Views parse, call one service function, return."""

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.gate import requires
from app.runtime import current as runtime
from app.schemas import pagination
from app.schemas.access import RevisionDetailSchema, RevisionSchema
from app.schemas.executions import (
    BackfillRequestSchema,
    BackfillSchema,
    BackfillStartedSchema,
    ExecutionSchema,
    IdempotencyHeaders,
    RunNowSchema,
)
from app.schemas.jobs import (
    JobCreateSchema,
    JobDetailSchema,
    JobListArgs,
    JobSchema,
    JobUpdateSchema,
)
from app.services import backfills, job_reads, pings, revisions
from app.services import executions as executions_service
from app.services import jobs as service
from app.services.access import Role

blp = Blueprint(
    "jobs", __name__, url_prefix="/api/jobs", description="Create, change and run jobs."
)


def _detail(job_id: str) -> dict:
    job, recent = job_reads.get_job_with_recent(runtime(), job_id)
    job.recent_executions = recent
    return job


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobListArgs(), location="query")
    @blp.response(200, JobSchema(many=True), headers=pagination.HEADER_DOC)
    def get(self, args):
        """List jobs

        A bare JSON array; pagination is in the X-Pagination header. Soft-deleted jobs
        only with include_deleted=true.
        """
        page, page_size = args.pop("page"), args.pop("page_size")
        jobs, total = job_reads.list_jobs(runtime(), job_reads.JobFilters(**args), page, page_size)
        return jobs, 200, pagination.pagination_header(page, page_size, total)

    @blp.arguments(
        JobCreateSchema(),
        example={
            "name": "Nightly report",
            "type": "http",
            "schedule": "0 2 * * *",
            "timezone": "Europe/Paris",
            "configuration": {"url": "http://127.0.0.1:8080/report", "method": "POST"},
        },
    )
    @blp.response(201, JobSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(409, description="The id is taken (by a live or a deleted job).")
    def post(self, data):
        """Create a job"""
        job = service.create_job(runtime(), data)
        return job, 201, {"Location": url_for("jobs.JobById", job_id=job.id)}


@blp.route("/<string:job_id>")
class JobById(MethodView):
    @blp.response(200, JobDetailSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def get(self, job_id):
        """Get a job with its 10 newest executions"""
        return _detail(job_id)

    @blp.arguments(JobUpdateSchema())
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def put(self, data, job_id):
        """Update the fields given, leave the rest

        A new schedule recomputes next_run_at; a new type re-validates configuration.
        An empty body is refused with 422.
        """
        return service.update_job(runtime(), job_id, data)

    @blp.arguments(JobUpdateSchema())
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def patch(self, data, job_id):
        """Update the fields given (same as PUT)"""
        return service.update_job(runtime(), job_id, data)

    @blp.response(204)
    @blp.alt_response(404, description="Unknown or already deleted job.")
    def delete(self, job_id):
        """Soft-delete a job

        Unscheduled at once and hidden from reads; history is kept and the id stays taken.
        Queued runs are cancelled; a running one finishes.
        """
        service.delete_job(runtime(), job_id)


@blp.route("/<string:job_id>/restore")
class RestoreJob(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown job.")
    def post(self, job_id):
        """Undo a soft delete (scheduled again if enabled)"""
        return service.restore_job(runtime(), job_id)


@blp.route("/<string:job_id>/enable")
class EnableJob(MethodView):
    @requires(Role.OPERATOR)
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def post(self, job_id):
        """Enable a job (idempotent)"""
        return service.set_enabled(runtime(), job_id, True)


@blp.route("/<string:job_id>/disable")
class DisableJob(MethodView):
    @requires(Role.OPERATOR)
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    def post(self, job_id):
        """Disable a job (idempotent); a running execution finishes"""
        return service.set_enabled(runtime(), job_id, False)


@blp.route("/<string:job_id>/run")
class RunJob(MethodView):
    @requires(Role.OPERATOR)
    @blp.arguments(IdempotencyHeaders(), location="headers")
    @blp.arguments(
        RunNowSchema(),
        required=False,
        example={"configuration": {"params": {"day": "2026-12-01"}}},
    )
    @blp.response(202, ExecutionSchema, headers={"Location": {"schema": {"type": "string"}}})
    @blp.alt_response(200, schema=ExecutionSchema, description="Repeated Idempotency-Key.")
    @blp.alt_response(404, description="Unknown or deleted job.")
    @blp.alt_response(
        409,
        description="overlap_policy is skip and a run is in progress, or the job is a "
        "heartbeat monitor (it runs nothing).",
    )
    def post(self, headers, body, job_id):
        """Run a job now (even when disabled)

        An optional body {"configuration": {...}} overrides those configuration keys for
        this run only: merged over the job's (a key replaces the job's key whole) and
        checked by the type's schema (422 naming configuration.<key>).
        """
        execution, created = executions_service.run_now(
            runtime(), job_id, headers.get("idempotency_key"), body.get("configuration")
        )
        location = url_for("executions.ExecutionById", job_id=job_id, execution_id=execution.id)
        return execution, 202 if created else 200, {"Location": location}


@blp.route("/<string:job_id>/ping-url")
class NewPingUrl(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    @blp.alt_response(409, description="The job is not a heartbeat monitor.")
    def post(self, job_id):
        """Give a heartbeat monitor a new ping URL (admin)

        The old URL stops answering (404) at once: for a URL that leaked.
        """
        return pings.new_ping_url(runtime(), job_id)


@blp.route("/<string:job_id>/revisions")
class Revisions(MethodView):
    @blp.response(200, RevisionSchema(many=True))
    @blp.alt_response(404, description="Unknown job.")
    def get(self, job_id):
        """List a job's revisions, newest first, with what each changed"""
        return revisions.list_revisions(runtime(), job_id)


@blp.route("/<string:job_id>/revisions/<int:number>")
class RevisionByNumber(MethodView):
    @blp.response(200, RevisionDetailSchema)
    @blp.alt_response(404, description="Unknown job or revision.")
    def get(self, job_id, number):
        """A job's whole definition as it was at revision n"""
        return revisions.get_revision(runtime(), job_id, number)


@blp.route("/<string:job_id>/revisions/<int:number>/restore")
class RestoreRevision(MethodView):
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="Unknown job or revision, or a deleted job.")
    @blp.alt_response(422, description="That definition is no longer valid here.")
    def post(self, job_id, number):
        """Make the job's definition that of revision n, as a new revision (admin)"""
        return service.restore_revision(runtime(), job_id, number)


@blp.route("/<string:job_id>/backfill")
class StartBackfill(MethodView):
    @requires(Role.OPERATOR)
    @blp.arguments(
        BackfillRequestSchema(),
        example={"start": "2026-12-01T00:00:00+00:00", "end": "2026-12-03T00:00:00+00:00"},
    )
    @blp.response(202, BackfillStartedSchema)
    @blp.alt_response(404, description="Unknown or deleted job.")
    @blp.alt_response(422, description="An empty range, an end before start or in the future, "
                      "or more fires than max_runs.")  # fmt: skip
    @blp.alt_response(409, description="The job is a heartbeat monitor (it runs nothing).")
    def post(self, data, job_id):
        """Backfill a time range: one run per fire of the job's schedule in it (operator)

        The runs (trigger backfill, scheduled_at the fire's time) go in time order, one
        at a time: the next starts when the one before it is final.
        """
        return backfills.start_backfill(
            runtime(), job_id, data["start"], data["end"], data["max_runs"]
        )


@blp.route("/<string:job_id>/backfills")
class Backfills(MethodView):
    @blp.response(200, BackfillSchema(many=True))
    @blp.alt_response(404, description="Unknown job.")
    def get(self, job_id):
        """A job's backfills, newest first, with their progress"""
        return backfills.list_backfills(runtime(), job_id)


@blp.route("/<string:job_id>/backfills/<int:backfill_id>/cancel")
class CancelBackfill(MethodView):
    @requires(Role.OPERATOR)
    @blp.response(200, BackfillSchema)
    @blp.alt_response(404, description="Unknown job or backfill.")
    def post(self, job_id, backfill_id):
        """Cancel a backfill: no more of its runs, the queued one cancelled (operator)"""
        return backfills.cancel_backfill(runtime(), job_id, backfill_id)
