"""Cron Job Management API (/api/engine/cron): the seed's second face on the same service.

Endpoints, as the seed lists them:
    GET    /api/engine/cron                   list all cron jobs
    POST   /api/engine/cron                   create a new cron job
    GET    /api/engine/cron/status            scheduler status
    GET    /api/engine/cron/{job_id}          get a single job
    PUT    /api/engine/cron/{job_id}          update a job (no fields: 400)
    DELETE /api/engine/cron/{job_id}          delete a job (soft)
    POST   /api/engine/cron/{job_id}/trigger  manually trigger a job
    GET    /api/engine/cron/{job_id}/history  execution history

Every call answers 503 while no scheduler runs anywhere, as the seed's does.
"""

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.errors import CronwellError, SchedulerUnavailable
from app.gate import requires
from app.models import Execution
from app.runtime import current as runtime
from app.schemas.cron import (
    CronHistoryArgs,
    CronHistoryResponse,
    CronJobCreate,
    CronJobListResponse,
    CronJobResponse,
    CronJobUpdate,
    SchedulerStatusResponse,
    TriggerResponse,
)
from app.services import executions as executions_service
from app.services import job_reads
from app.services import jobs as jobs_service
from app.services import status as status_service
from app.services.access import Role
from app.statuses import ACTIVE_STATUSES, Status

blp = Blueprint(
    "engine_cron",
    __name__,
    url_prefix="/api/engine/cron",
    description="Cron Job Management API (engine-cron): CRUD + trigger + history.",
)
UNAVAILABLE = "Scheduler not available — engine not started"


class NoFieldsToUpdate(CronwellError):
    status = 400

    def __init__(self) -> None:
        super().__init__("No fields to update")


@blp.before_request
def _require_scheduler() -> None:
    if not status_service.scheduler_running(runtime()):
        raise SchedulerUnavailable(UNAVAILABLE)


def _history_entry(execution: Execution, job_type: str) -> dict[str, Any]:
    final = execution.status not in ACTIVE_STATUSES
    return {
        "id": execution.id,
        "action": "execution",
        "skill": job_type,
        "details": {
            "status": execution.status,
            "trigger": execution.trigger,
            "attempt": execution.attempt,
            "retry_of": execution.retry_of,
            "error": execution.error,
            "scheduled_at": execution.scheduled_at.isoformat(),
            "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
            "result": execution.result,
        },
        "success": execution.status == Status.SUCCESS if final else None,
        "created_at": execution.created_at,
        "duration_ms": execution.duration_ms,
    }


@blp.route("")
class CronJobs(MethodView):
    @blp.response(200, CronJobListResponse)
    @blp.alt_response(503, description=UNAVAILABLE)
    def get(self):
        """List all cron jobs with current state"""
        jobs, total = job_reads.list_jobs(
            runtime(), job_reads.JobFilters(), page=1, page_size=1_000_000
        )
        return {"total": total, "jobs": jobs, "scheduler_running": True}

    @blp.arguments(
        CronJobCreate(),
        example={"name": "Morning digest", "schedule": "0 8 * * *", "payload": "Summarize"},
    )
    @blp.response(201, CronJobResponse)
    @blp.alt_response(409, description="The id is taken.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def post(self, data):
        """Create a new cron job"""
        return jobs_service.create_job(runtime(), data)


@blp.route("/status")
class CronSchedulerStatus(MethodView):
    @blp.response(200, SchedulerStatusResponse)
    @blp.alt_response(503, description=UNAVAILABLE)
    def get(self):
        """Get scheduler status"""
        return status_service.scheduler_status(runtime())


@blp.route("/<cron_job_id:job_id>")
class CronJobById(MethodView):
    @blp.response(200, CronJobResponse)
    @blp.alt_response(404, description="Job not found.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def get(self, job_id):
        """Get a single cron job by ID"""
        return job_reads.get_job(runtime(), job_id)

    @blp.arguments(CronJobUpdate())
    @blp.response(200, CronJobResponse)
    @blp.alt_response(400, description="No fields to update.")
    @blp.alt_response(404, description="Job not found.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def put(self, data, job_id):
        """Update an existing cron job"""
        if not data:
            raise NoFieldsToUpdate()
        return jobs_service.update_job(runtime(), job_id, data, merge_configuration=True)

    @blp.response(204)
    @blp.alt_response(404, description="Job not found.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def delete(self, job_id):
        """Delete a cron job (soft: history kept, restorable through /api/jobs)"""
        jobs_service.delete_job(runtime(), job_id)


@blp.route("/<string:job_id>/trigger")
class CronTrigger(MethodView):
    @requires(Role.OPERATOR)
    @blp.response(200, TriggerResponse)
    @blp.alt_response(404, description="Job not found.")
    @blp.alt_response(409, description="overlap_policy is skip and a run is in progress.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def post(self, job_id):
        """Manually trigger a cron job (run now)"""
        executions_service.run_now(runtime(), job_id)
        return {
            "triggered": True,
            "job_id": job_id,
            "message": f"Job {job_id!r} triggered — running in background",
        }


@blp.route("/<string:job_id>/history")
class CronHistory(MethodView):
    @blp.arguments(CronHistoryArgs(), location="query")
    @blp.response(200, CronHistoryResponse)
    @blp.alt_response(404, description="Job not found.")
    @blp.alt_response(503, description=UNAVAILABLE)
    def get(self, args, job_id):
        """Get execution history for a cron job (newest first)"""
        job = job_reads.get_job(runtime(), job_id)
        executions, _ = executions_service.list_executions(
            runtime(), job_id, None, page=1, page_size=args["limit"]
        )
        entries = [_history_entry(e, job.type) for e in executions]
        return {"job_id": job_id, "total": len(entries), "entries": entries}
