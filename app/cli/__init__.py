"""``cronwell``: a command-line client of a running Cronwell service's REST API.

Commands are nouns and verbs (``cronwell jobs run ID``). Output is text for people,
``--json`` for scripts; errors go to stderr with the service's message. Exit codes: 0
done, 1 refused or failed, 2 bad usage.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from app.cli import access as access_module
from app.cli import apply as apply_module
from app.cli.client import Client
from app.cli.output import as_json, duration, short_time, table
from app.statuses import FINAL_STATUSES, Status, Trigger

POLL_SECONDS = 0.5


@click.group()
@click.option(
    "--url",
    default=lambda: os.environ.get("CRONWELL_URL", "http://127.0.0.1:8000"),
    show_default="CRONWELL_URL, else http://127.0.0.1:8000",
    help="The service's address.",
)
@click.option(
    "--token",
    default=lambda: os.environ.get("CRONWELL_API_TOKEN"),
    show_default="CRONWELL_API_TOKEN",
    help="An API key, or the service's API token.",
)
@click.version_option(package_name="cronwell")
@click.pass_context
def main(context: click.Context, url: str, token: str | None) -> None:
    """Drive a Cronwell service: jobs, runs, logs, schedules, and jobs kept in a file."""
    context.obj = Client(url, token)


# -- jobs ---------------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """List, show, run, enable, disable, delete and restore jobs."""


@jobs.command("list")
@click.option("--tag", "tags", multiple=True, help="Only jobs with this tag (repeat: all).")
@click.option("--json", "as_json_", is_flag=True, help="The API's JSON, for scripts.")
@click.pass_obj
def list_jobs(client: Client, tags: tuple[str, ...], as_json_: bool) -> None:
    """List the jobs."""
    found = client.all_jobs(tags)
    if as_json_:
        as_json(found)
        return
    table(
        ("ID", "NAME", "TYPE", "SCHEDULE", "NEXT RUN (UTC)", "LAST", "ENABLED", "TAGS"),
        [
            (j["id"], j["name"], j["type"], j["schedule"], short_time(j["next_run_at"]),
             j["last_status"] or "-", "yes" if j["is_enabled"] else "no", ",".join(j["tags"]))
            for j in found
        ],
    )  # fmt: skip


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "as_json_", is_flag=True, help="The API's JSON, for scripts.")
@click.pass_obj
def show_job(client: Client, job_id: str, as_json_: bool) -> None:
    """Show a job and its newest runs."""
    job = client.get(f"/api/jobs/{job_id}")
    if as_json_:
        as_json(job)
        return
    for key in ("id", "name", "description", "type", "schedule", "schedule_description",
                "timezone", "is_enabled", "next_run_at", "last_status", "last_run_at",
                "run_count", "success_count", "fail_count", "retry_count", "overlap_policy",
                "jitter_seconds", "tags", "on_success", "on_failure", "run_on",
                "concurrency_group", "ping_url"):  # fmt: skip
        value = job.get(key)
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
        click.echo(f"{key + ':':<22}{'-' if value is None else value}")
    click.echo(f"{'configuration:':<22}{json.dumps(job['configuration'], sort_keys=True)}")
    _print_runs(job.get("recent_executions") or [])


def _state_command(verb: str, summary: str):
    @jobs.command(verb, help=summary)
    @click.argument("job_id")
    @click.pass_obj
    def command(client: Client, job_id: str) -> None:
        if verb == "delete":
            client.delete(f"/api/jobs/{job_id}")
            click.echo(f"deleted {job_id}")
            return
        job = client.post(f"/api/jobs/{job_id}/{verb}")
        next_run = short_time(job.get("next_run_at"))
        click.echo(f"{verb}d {job_id} (enabled: {'yes' if job['is_enabled'] else 'no'}, "
                   f"next run: {next_run})")  # fmt: skip

    return command


for _verb, _summary in (
    ("enable", "Enable a job (it fires again)."),
    ("disable", "Disable a job (no more fires; a run going on finishes)."),
    ("delete", "Delete a job (its history is kept; restore brings it back)."),
    ("restore", "Restore a deleted job."),
):
    _state_command(_verb, _summary)


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE.", param_hint="--set")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw  # not JSON: the text itself
    return overrides


@jobs.command("run")
@click.argument("job_id")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="A configuration key for this run only (VALUE is JSON, else text).")  # fmt: skip
@click.option("--wait", is_flag=True, help="Wait for the final status: exit 0 on success.")
@click.option("--timeout", type=click.IntRange(1), default=86400, show_default=True,
              help="With --wait: give up after this many seconds (exit 1).")  # fmt: skip
@click.pass_obj
def run_job(client: Client, job_id: str, sets: tuple[str, ...], wait: bool, timeout: int) -> None:
    """Run a job now (even a disabled one)."""
    body = {"configuration": _parse_sets(sets)} if sets else None
    run = client.post(f"/api/jobs/{job_id}/run", body)
    click.echo(f"started run {run['id']} of {job_id}")
    if not wait:
        return
    final = _wait_final(client, job_id, run, time.monotonic() + timeout)
    error = f": {final['error']}" if final.get("error") else ""
    click.echo(f"run {final['id']} {final['status']}{error}")
    if final["status"] != Status.SUCCESS:
        raise SystemExit(1)


def _wait_final(client: Client, job_id: str, run: dict, deadline: float) -> dict:
    """The run's final attempt once it is final (retries followed)."""
    first = run["id"]
    while time.monotonic() < deadline:
        run = client.get(f"/api/jobs/{job_id}/executions/{run['id']}")
        if run["status"] in FINAL_STATUSES:
            retry = _retry_of(client, job_id, first, run["attempt"] + 1)
            if retry is None:
                return run
            run = retry
            continue
        time.sleep(POLL_SECONDS)
    raise click.ClickException(f"Run {run['id']} still {run['status']} after the timeout.")


def _retry_of(client: Client, job_id: str, first: int, attempt: int) -> dict | None:
    """The retry with this attempt number of the run ``first``, if one was queued."""
    for row in client.get(f"/api/jobs/{job_id}/executions", page_size=100):
        retry = row["trigger"] == Trigger.RETRY and row["retry_of"] == first
        if retry and row["attempt"] == attempt:
            return row
    return None


# -- runs, logs, preview ------------------------------------------------------------------


def _print_runs(runs: list[dict]) -> None:
    table(
        ("RUN", "STATUS", "TRIGGER", "SCHEDULED (UTC)", "STARTED (UTC)", "DURATION"),
        [
            (r["id"], r["status"], r["trigger"], short_time(r["scheduled_at"]),
             short_time(r["started_at"]), duration(r["duration_ms"]))
            for r in runs
        ],
    )  # fmt: skip


@main.command()
@click.argument("job_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json_", is_flag=True, help="The API's JSON, for scripts.")
@click.pass_obj
def runs(client: Client, job_id: str, limit: int, as_json_: bool) -> None:
    """A job's runs, newest first."""
    found = client.get(f"/api/jobs/{job_id}/executions", page_size=limit)
    if as_json_:
        as_json(found)
    else:
        _print_runs(found)


@main.command()
@click.argument("job_id")
@click.argument("execution_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the run goes.")
@click.pass_obj
def logs(client: Client, job_id: str, execution_id: int, follow: bool) -> None:
    """A run's output (the last 64 KiB); --follow prints it as it comes."""
    path = f"/api/jobs/{job_id}/executions/{execution_id}"
    shown = ""
    for _ in range(10_000_000):  # --follow: until the run is final
        run = client.get(path)
        output = run.get("output") or ""
        click.echo(new_part(shown, output), nl=False)
        shown = output
        if not follow or run["status"] in FINAL_STATUSES:
            break
        time.sleep(POLL_SECONDS)
    if follow:
        click.echo(f"[run {execution_id} {run['status']}]", err=True)


def new_part(shown: str, output: str) -> str:
    """What ``output`` adds to what was shown (the kept window may have moved on)."""
    if output.startswith(shown):
        return output[len(shown) :]
    anchor = shown[-256:]
    at = output.rfind(anchor) if anchor else -1
    return output[at + len(anchor) :] if at >= 0 else output


@main.command()
@click.argument("schedule")
@click.option("--timezone", help="IANA name (default: the service's).")
@click.option("--count", type=click.IntRange(1, 100), default=5, show_default=True)
@click.pass_obj
def preview(client: Client, schedule: str, timezone: str | None, count: int) -> None:
    """A schedule in words, its next fire times and DST warnings."""
    body: dict[str, Any] = {"schedule": schedule, "count": count}
    if timezone:
        body["timezone"] = timezone
    answer = client.post("/api/schedules/preview", body)
    click.echo(answer["description"])
    for moment in answer["next_run_times"]:
        click.echo(f"  {moment}")
    for warning in answer["warnings"]:
        click.echo(f"warning: {warning}")


@main.command()
@click.option("--json", "as_json_", is_flag=True, help="The API's JSON, for scripts.")
@click.pass_obj
def workers(client: Client, as_json_: bool) -> None:
    """The processes that run executions: state, load, labels, which one leads."""
    found = client.get("/api/workers")
    if as_json_:
        as_json(found)
        return
    table(
        ("WORKER", "STATE", "RUNNING", "LABELS", "HEARTBEAT (UTC)", "LEADER"),
        [
            (w["id"], w["state"], f"{w['running']}/{w['capacity']}",
             ",".join(f"{k}={v}" for k, v in sorted(w["labels"].items())) or "-",
             short_time(w["heartbeat_at"]), "yes" if w["leader"] else "")
            for w in found
        ],
    )  # fmt: skip


@main.command()
@click.option("--reason", help="Said by every fire skipped meanwhile.")
@click.pass_obj
def pause(client: Client, reason: str | None) -> None:
    """Pause every scheduled fire (operator); run-now, retries and chains still run."""
    state = client.post("/api/scheduler/pause", {"reason": reason})
    click.echo(f"Paused since {short_time(state['paused_at'])} UTC: {state['pause_reason']}")


@main.command()
@click.option(
    "--catch-up", is_flag=True, help="One run now of each job that had fires skipped meanwhile."
)
@click.pass_obj
def resume(client: Client, catch_up: bool) -> None:
    """Resume scheduled fires (operator)."""
    state = client.post("/api/scheduler/resume", {"catch_up": catch_up})
    runs = state["catch_up_runs"]
    click.echo("Resumed." + (f" {len(runs)} catch-up run(s) queued." if catch_up else ""))


@main.command()
@click.argument("job_id")
@click.option("--start", required=True, help="From this time (ISO, with offset).")
@click.option("--end", required=True, help="Up to this time (ISO, with offset), not in the future.")
@click.option("--max-runs", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--wait", is_flag=True, help="Wait for every run; exit 1 unless all succeed.")
@click.option("--timeout", type=int, default=3600, show_default=True, help="Seconds --wait waits.")
@click.pass_obj
def backfill(
    client: Client, job_id: str, start: str, end: str, max_runs: int, wait: bool, timeout: int
) -> None:
    """Run a job once for each fire of its schedule in a time range, in order, one at a
    time (operator)."""
    body = {"start": start, "end": end, "max_runs": max_runs}
    started = client.post(f"/api/jobs/{job_id}/backfill", body)
    click.echo(
        f"Backfill {started['backfill_id']}: {started['runs']} run(s), "
        f"{short_time(started['first'])} to {short_time(started['last'])} UTC"
    )
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while True:
        found = client.get(f"/api/jobs/{job_id}/backfills")
        state = next(b for b in found if b["id"] == started["backfill_id"])
        if state["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    click.echo(f"{state['state']}: {state['succeeded']} of {state['runs']} succeeded")
    if state["state"] != "done" or state["succeeded"] != state["runs"]:
        raise SystemExit(1)


@main.command()
@click.argument("key")
@click.option(
    "--start", "signal", flag_value="start", help="The job began (duration counts from here)."
)
@click.option("--fail", "signal", flag_value="fail", help="The job failed.")
@click.option("--exit-code", type=click.IntRange(0, 255), help="The job's exit code (0: success).")
@click.option(
    "--output", type=click.File("rb"), help="Send this file as the run's output ('-': stdin)."
)
@click.pass_obj
def ping(client: Client, key: str, signal: str | None, exit_code: int | None, output) -> None:
    """Ping a heartbeat monitor: KEY is its ping URL, or the key at the URL's end. No
    token is needed: the URL is the secret. Without --start, --fail or --exit-code the
    ping says the job ran."""
    if signal and exit_code is not None:
        raise click.UsageError("Give --start, --fail or --exit-code, not two of them.")
    key = key.rstrip("/").rsplit("/", 1)[-1]
    suffix = f"/{exit_code}" if exit_code is not None else f"/{signal}" if signal else ""
    data = output.read() if output is not None else None
    client.call("POST", f"/ping/{key}{suffix}", data=data)
    click.echo("OK")


apply_module.register(main)
access_module.register(main)
