"""The UI's actions: real forms, each answered with a redirect (Post/Redirect/Get) and a
flash message: run, retry, enable, disable, delete, restore, cancel, and the same on the
selected rows of the jobs list."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import gate
from app.errors import CronwellError, RunInProgress
from app.gate import requires
from app.runtime import current as runtime
from app.services import executions as executions_service
from app.services import job_reads, pings
from app.services import jobs as jobs_service
from app.services import pause as pause_service
from app.services.access import Role
from app.ui.auth import go_back, local_target
from app.ui.blueprint import bp

#: The most rows one "with the selected" action takes (a page of the list).
MAX_SELECTED = 50


def _in_progress(job_id: str, busy: RunInProgress) -> Response:
    """overlap_policy skip: no second run; the run in progress instead."""
    flash("It is already running (its overlap policy is skip): this is the run in progress.")
    return redirect(url_for("ui.execution", job_id=job_id, execution_id=busy.execution_id))


@bp.post("/jobs/<job_id>/run")
@requires(Role.OPERATOR)
def run_job(job_id: str) -> Response:
    try:
        run, _ = executions_service.run_now(runtime(), job_id)
    except RunInProgress as busy:
        return _in_progress(job_id, busy)
    page = url_for("ui.execution", job_id=job_id, execution_id=run.id)
    flash(f"Run #{run.id} started.")
    return go_back(page)


@bp.post("/jobs/<job_id>/executions/<int:execution_id>/retry")
@requires(Role.OPERATOR)
def retry_execution(job_id: str, execution_id: int) -> Response:
    """Run the job again, with the run's own configuration overrides (a finished run
    that did not succeed offers this)."""
    rt = runtime()
    old = executions_service.get_execution(rt, job_id, execution_id)
    try:
        run, _ = executions_service.run_now(rt, job_id, overrides=old.configuration_overrides)
    except RunInProgress as busy:
        return _in_progress(job_id, busy)
    flash(f"Run #{run.id} started, again as run #{old.id} was.")
    return redirect(url_for("ui.execution", job_id=job_id, execution_id=run.id))


@bp.post("/jobs/<job_id>/ping-url")
@requires(Role.ADMIN)
def new_ping_url(job_id: str) -> Response:
    """A heartbeat monitor's new ping URL (the old one answers 404 at once)."""
    pings.new_ping_url(runtime(), job_id)
    flash("New ping URL made: the old one no longer answers. Update the cron job's pings.")
    return redirect(url_for("ui.job", job_id=job_id, _anchor="pinging"))


@bp.post("/jobs/<job_id>/enable")
@requires(Role.OPERATOR)
def enable_job(job_id: str) -> Response:
    jobs_service.set_enabled(runtime(), job_id, True)
    flash("Job enabled.")
    return go_back(url_for("ui.job", job_id=job_id))


@bp.post("/jobs/<job_id>/disable")
@requires(Role.OPERATOR)
def disable_job(job_id: str) -> Response:
    jobs_service.set_enabled(runtime(), job_id, False)
    flash("Job disabled: it will not fire until enabled.")
    return go_back(url_for("ui.job", job_id=job_id))


@bp.route("/jobs/<job_id>/delete", methods=["GET", "POST"])
@requires(Role.ADMIN)
def delete_job(job_id: str):
    """Asks first; deleting keeps the history, and the job can be restored."""
    rt = runtime()
    if request.method == "GET":
        return render_template("delete.html", job=job_reads.get_job(rt, job_id))
    jobs_service.delete_job(rt, job_id)
    flash("Job deleted. Its history is kept; it can be restored from its page.")
    return redirect(url_for("ui.jobs"))


@bp.post("/jobs/<job_id>/restore")
def restore_job(job_id: str) -> Response:
    jobs_service.restore_job(runtime(), job_id)
    flash("Job restored.")
    return redirect(url_for("ui.job", job_id=job_id))


@bp.post("/scheduler/pause")
@requires(Role.OPERATOR)
def pause() -> Response:
    pause_service.pause(runtime(), request.form.get("reason"))
    flash("Paused: scheduled fires are skipped until you resume.")
    return redirect(url_for("ui.dashboard"))


@bp.post("/scheduler/resume")
@requires(Role.OPERATOR)
def resume() -> Response:
    _, runs = pause_service.resume(runtime(), request.form.get("catch_up") == "true")
    caught = f" {len(runs)} catch-up run{'' if len(runs) == 1 else 's'} queued." if runs else ""
    flash("Resumed." + caught)
    return redirect(url_for("ui.dashboard"))


@bp.post("/jobs/<job_id>/revisions/<int:number>/restore")
def restore_revision(job_id: str, number: int) -> Response:
    """Make the job's definition that of revision ``number`` (as a new revision)."""
    jobs_service.restore_revision(runtime(), job_id, number)
    flash(f"Restored revision {number}, as a new revision.")
    return redirect(url_for("ui.job", job_id=job_id) + "#revisions")


@bp.post("/jobs/<job_id>/executions/<int:execution_id>/cancel")
@requires(Role.OPERATOR)
def cancel_execution(job_id: str, execution_id: int) -> Response:
    run = executions_service.cancel_execution(runtime(), job_id, execution_id)
    flash(f"Run #{execution_id}: {run.status}.")
    return redirect(url_for("ui.execution", job_id=job_id, execution_id=execution_id))


#: What "with the selected" buttons do to each job (delete asks first).
BULK = {
    "enable": ("enabled", lambda rt, job_id: jobs_service.set_enabled(rt, job_id, True)),
    "disable": ("disabled", lambda rt, job_id: jobs_service.set_enabled(rt, job_id, False)),
    "run": ("started", lambda rt, job_id: executions_service.run_now(rt, job_id)),
    "delete": ("deleted", jobs_service.delete_job),
}


@bp.post("/jobs/bulk")
@requires(Role.OPERATOR)
def bulk() -> Response | str:
    """Enable, disable, run or delete the selected jobs (a delete is confirmed first)."""
    rt = runtime()
    action, ids = request.form.get("action", ""), request.form.getlist("ids")[:MAX_SELECTED]
    back = local_target(request.form.get("next"), url_for("ui.jobs"))
    if action not in BULK or not ids:
        flash("Select one or more jobs first." if ids == [] else "Unknown action.")
        return redirect(back)
    if action == "delete":
        gate.require(Role.ADMIN)
    if action == "delete" and request.form.get("confirm") != "yes":
        chosen = [job_reads.get_job(rt, job_id) for job_id in ids]
        return render_template("bulk_delete.html", jobs=chosen, next=back)
    done, refused = [], []
    did, apply = BULK[action]
    for job_id in ids:
        try:
            apply(rt, job_id)
            done.append(job_id)
        except CronwellError as exc:
            refused.append(f"{job_id}: {exc.message}")
    flash(f"{len(done)} job{'' if len(done) == 1 else 's'} {did}.")
    for message in refused:
        flash(message, "error")
    return redirect(back)
