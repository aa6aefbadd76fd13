"""The UI's pages. Each view reads its arguments, calls the services (the same ones the
API calls, in-process) and renders a template; a live part of a page is an include that
htmx fetches again (the same URL with an HX-Request header). The buttons' actions are in
:mod:`app.ui.actions`."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import available_timezones

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.db import database_unavailable
from app.errors import CronwellError, DatabaseUnavailable, JobNotFound
from app.gate import requires
from app.headers import public_base_url
from app.runtime import current as runtime
from app.schemas import field_errors
from app.schemas.jobs import JobCreateSchema, JobListArgs, JobUpdateSchema
from app.services import (
    audit,
    calendars,
    history,
    job_reads,
    overview,
    pings,
    revisions,
    secrets,
    status,
)
from app.services import executions as executions_service
from app.services import jobs as jobs_service
from app.services import workers as workers_service
from app.services.access import Role
from app.statuses import ACTIVE_STATUSES, ALL_STATUSES
from app.ui import forms
from app.ui.auth import go_back
from app.ui.blueprint import bp

logger = logging.getLogger("cronwell.ui")
JOBS_PER_PAGE = 50
RUNS_PER_PAGE = 20
NEXT_FIRES = 5


def _page(template: str, partial: str, **context: Any) -> Response:
    """The whole page, or only its live part when htmx asks for it again. The live part
    has an ETag and must be revalidated (no-cache): the browser asks with If-None-Match,
    and a part that did not change is answered 304 with no body."""
    live = request.headers.get("HX-Request") == "true"
    response = current_app.make_response(render_template(partial if live else template, **context))
    response.vary.add("HX-Request")
    if live:
        response.add_etag()
        response.cache_control.no_cache = True
        response.make_conditional(request)
    return response


def _pages(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill (one, when there are none)."""
    return max(1, -(-total // per_page))


def _page_number() -> int:
    number = request.args.get("page", "1")
    return int(number) if number.isdigit() and 0 < int(number) <= 1_000_000 else 1


@bp.errorhandler(CronwellError)
def domain_error(error: CronwellError) -> Response | tuple[str, int]:
    """A refused action goes back with its message; a page that cannot be shown says why."""
    if request.method == "POST":
        flash(error.message, "error")
        return go_back(url_for("ui.jobs"))
    return render_template("error.html", message=error.message), error.status


@bp.route("/")
def dashboard() -> Response:
    """Job counts, runs going on now, the next fires, recent failures and misses."""
    rt = runtime()
    return _page(
        "dashboard.html",
        "_dashboard_live.html",
        status=status.scheduler_status(rt),
        active=overview.active_runs(rt),
        upcoming=overview.upcoming_fires(rt),
        problems=overview.recent_problems(rt),
        day=history.last_day(rt),
    )


@bp.route("/workers")
def workers() -> Response:
    """Every worker process, its state, load and labels."""
    rt = runtime()
    return _page(
        "workers.html",
        "_workers_live.html",
        workers=workers_service.list_workers(rt),
        timezone=rt.settings.timezone,
    )


AUDIT_PER_PAGE = 50


@bp.route("/calendars")
def calendars_page() -> str:
    """Every calendar: its dates, holidays and windows, and the jobs that use it."""
    rt = runtime()
    return render_template(
        "calendars.html",
        calendars=calendars.list_calendars(rt),
        used=calendars.usage(rt),
    )


@bp.route("/audit")
def audit_log() -> str:
    """Every change: who, what, where from; filters by actor, action, target and time."""
    args = request.args
    problem, bounds = None, {}
    for name in ("since", "until"):
        if args.get(name):
            try:
                moment = dt.datetime.fromisoformat(args[name])
                bounds[name] = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            except ValueError:
                problem = f"{name}: not a date and time (e.g. 2026-12-06T09:00)."
    filters = audit.AuditFilters(
        actor=args.get("actor") or None,
        action=args.get("action") or None,
        target=args.get("target") or None,
        **bounds,
    )
    page = _page_number()
    entries, total = audit.list_entries(runtime(), filters, page, AUDIT_PER_PAGE)
    shown = {k: v for k, v in args.items() if k != "page" and v}
    return render_template(
        "audit.html",
        entries=entries,
        total=total,
        page=page,
        pages=_pages(total, AUDIT_PER_PAGE),
        args=shown,
        actions=audit.ACTIONS,
        problem=problem,
        timezone=runtime().settings.timezone,
    )


@bp.route("/jobs")
def jobs() -> Response:
    """The jobs as a table, searched, filtered and in pages."""
    rt = runtime()
    schema = JobListArgs()
    args: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if v and k in schema.fields and k not in ("page_size", "tag")
    }
    tags = [word for text in request.args.getlist("tag") for word in forms.words(text)]
    if tags:
        args["tag"] = tags
    try:
        loaded = schema.load(args)
        problem = None
    except ValidationError as exc:
        loaded = schema.load({})
        problem = "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors(exc.messages).items())
    page = loaded.pop("page")
    loaded.pop("page_size")
    sort = request.args.get("sort", "created")
    if sort not in job_reads.SORTS:
        sort = "created"
    filters = job_reads.JobFilters(**loaded, q_in_id=True, sort=sort, mark_running=True)
    found, total = job_reads.list_jobs(rt, filters, page, JOBS_PER_PAGE)
    if sort != "created":
        args["sort"] = sort
    return _page(
        "jobs.html",
        "_jobs_table.html",
        jobs=found,
        total=total,
        page=page,
        pages=_pages(total, JOBS_PER_PAGE),
        sort=sort,
        filters=args,
        problem=problem,
        types=rt.registry.names(),
        statuses=ALL_STATUSES,
    )


def _form_page(form: forms.JobForm, job: Any = None, status_code: int = 200):
    rt = runtime()
    return (
        render_template(
            "job_form.html",
            form=form,
            job=job,
            types=rt.registry.enabled_names(),
            timezones=sorted(available_timezones()),
            notify_events=forms.NOTIFY_CHOICES,
        ),
        status_code,
    )


def _spec(type_name: str | None) -> list[forms.ConfigField]:
    """The form's fields for ``type_name``'s configuration (none for an unknown type)."""
    return forms.config_fields(runtime().registry.config_schema(type_name or ""))


@bp.route("/type-fields")
def type_fields() -> str:
    """The configuration fields of the type chosen in the form (htmx asks as it changes)."""
    type_name = request.args.get("type", "")
    form = forms.blank_form({"type": type_name, "timezone": "UTC"}, _spec(type_name))
    return render_template("_type_fields.html", form=form, v=form.values)


def _save(job: Any = None):
    """Create (``job`` None) or update from the form; refused: the form again, with each
    error next to its field."""
    rt = runtime()
    form = forms.sent_form(request.form, _spec(request.form.get("type") or (job and job.type)))
    creating = job is None
    try:
        payload = forms.payload_of(
            form, JobCreateSchema() if creating else JobUpdateSchema(), creating=creating
        )
        if creating:
            saved = jobs_service.create_job(rt, payload)
        else:
            saved = jobs_service.update_job(rt, job.id, payload)
    except forms.FormRefused as exc:
        # The fields the form's schema took go through the services' checks too, so
        # that one Save shows every error.
        more = jobs_service.field_problems(rt, exc.valid, job)
        errors = {**{k: v for k, v in more.items() if k not in exc.errors}, **exc.errors}
        form.errors = forms.errors_by_field(errors, form.spec)
    except JobNotFound:
        raise
    except CronwellError as exc:
        form.errors = forms.errors_by_field(exc.errors or {"_body": [exc.message]}, form.spec)
    else:
        flash(f"Job {saved.name!r} {'created' if creating else 'saved'}.")
        return redirect(url_for("ui.job", job_id=saved.id))
    form.message = "The job was not saved: see the fields marked below."
    return _form_page(form, job, 422)


@bp.route("/jobs/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_job():
    """The form for a new job."""
    if request.method == "POST":
        return _save()
    rt = runtime()
    enabled = rt.registry.enabled_names()
    default_type = "http" if "http" in enabled else (enabled[0] if enabled else "")
    defaults = {"type": default_type, "timezone": rt.settings.timezone}
    return _form_page(forms.blank_form(defaults, _spec(default_type)))


@bp.route("/jobs/<job_id>/edit", methods=["GET", "POST"])
@requires(Role.ADMIN)
def edit_job(job_id: str):
    """The form with the job's definition."""
    job = job_reads.get_job(runtime(), job_id)
    if request.method == "POST":
        return _save(job)
    return _form_page(forms.form_of(job, _spec(job.type)), job)


@bp.route("/jobs/<job_id>")
def job(job_id: str) -> Response:
    """Every field, the next fires, and the executions in pages."""
    rt = runtime()
    found = job_reads.get_job(rt, job_id, include_deleted=True)
    page = _page_number()
    shown_status = request.args.get("status") or None
    if shown_status not in (None, *ALL_STATUSES):
        shown_status = None
    runs, total = executions_service.list_executions(
        rt, job_id, shown_status, page, RUNS_PER_PAGE, include_deleted=True
    )
    preview = None
    if found.deleted_at is None:
        preview = status.job_fires(found, NEXT_FIRES)
    return _page(
        "job.html",
        "_job_live.html",
        job=found,
        runs=runs,
        total=total,
        page=page,
        pages=_pages(total, RUNS_PER_PAGE),
        preview=preview,
        history=history.job_history(rt, job_id),
        shown_status=shown_status,
        statuses=ALL_STATUSES,
        description=job_reads.describe_schedule(found),
        schedule=job_reads.schedule_text(found),
        notify=secrets.shown_notify(found.notify),
        revisions=revisions.list_revisions(rt, job_id),
        ping_url=pings.ping_url(found.ping_key, public_base_url()),
        mask=secrets.MASK,
        crontab_schedule=found.schedule_config.get("expression", "*/5 * * * *")
        if found.schedule_type == "cron"
        else "*/5 * * * *",
    )


@bp.route("/jobs/<job_id>/executions/<int:execution_id>")
def execution(job_id: str, execution_id: int) -> Response:
    """One run: status, times, result, error, output (followed while it runs)."""
    rt = runtime()
    found = job_reads.get_job(rt, job_id, include_deleted=True)
    run = executions_service.get_execution(rt, job_id, execution_id, include_deleted=True)
    return _page(
        "execution.html",
        "_execution_live.html",
        job=found,
        run=run,
        active=run.status in ACTIVE_STATUSES,
    )


@bp.route("/executions/<int:execution_id>")
def execution_by_id(execution_id: int) -> Response:
    """A run known by its id alone (a chained run's trigger): its page."""
    run = executions_service.find_execution(runtime(), execution_id)
    return redirect(url_for("ui.execution", job_id=run.job_id, execution_id=run.id))


@bp.route("/preview")
def preview() -> str:
    """The schedule typed so far: its description, next fire times and warnings."""
    text = request.args.get("schedule", "").strip()
    if not text:
        return render_template("_preview.html", preview=None, error=None)
    data = {"schedule": text[:200], "timezone": request.args.get("timezone") or None, "count": 5}
    try:
        shown = status.preview_schedule(runtime(), data)
    except CronwellError as exc:
        if exc.errors and "timezone" in exc.errors:  # the Timezone field says what is wrong
            message = "Choose a timezone from the list to see the next fires."
        else:
            message = "; ".join(m for ms in (exc.errors or {}).values() for m in ms)
        return render_template("_preview.html", preview=None, error=message or exc.message)
    return render_template("_preview.html", preview=shown, error=None)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    """A page, not the API's JSON: no such page (404), a method not allowed (405), ..."""
    message = "There is no such page." if error.code == 404 else error.description
    return render_template("error.html", message=message), error.code or 500


@bp.errorhandler(Exception)
def unexpected_error(error: Exception) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    if database_unavailable(error):  # a restart, a cut network: try again shortly
        logger.warning("%s %s: %s", request.method, request.path, error)
        away = DatabaseUnavailable()
        return render_template("error.html", message=away.message), away.status, away.headers
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    message = "Something went wrong; the details are in the service log."
    return render_template("error.html", message=message), 500


@bp.errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> tuple[str, int]:
    message = f"The form was refused: {error.description} Reload the page and try again."
    return render_template("error.html", message=message), 400


@bp.route("/<path:unknown>")
def unknown_page(unknown: str):
    abort(404)
