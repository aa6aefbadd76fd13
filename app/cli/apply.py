"""``cronwell apply`` and ``cronwell export``: jobs kept in a file (YAML or JSON), in the
form ``POST /api/jobs`` takes them.

``apply`` decides one action per job (``create``, ``update``, ``unchanged``) from the
fields the file gives, then carries them out in two passes: the jobs first, without
their chains, then the chains (a chain may name a job the file creates later). With
``--prune`` it also deletes the jobs that carry the file's ``prune_tag`` and are not in
the file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from app.cli.client import Client, ServiceError

CHAIN_FIELDS = ("on_success", "on_failure")
#: The fields ``export`` writes: what a create takes, the schedule as one string.
EXPORTED = (
    "id", "name", "description", "type", "schedule", "timezone", "configuration",
    "is_enabled", "max_duration_seconds", "retry_count", "retry_delay_seconds",
    "overlap_policy", "misfire_grace_seconds", "jitter_seconds", "tags", "on_success",
    "on_failure", "notify", "run_on", "concurrency_group",
)  # fmt: skip
MASK = "****"


class FileRefused(click.ClickException):
    exit_code = 1


def read_jobs_file(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The file's jobs and its prune_tag; FileRefused when it is not such a file."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FileRefused(f"{path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
        raise FileRefused(f"{path}: expected a mapping with 'jobs:', a list of jobs.")
    unknown = set(document) - {"jobs", "prune_tag"}
    if unknown:
        raise FileRefused(f"{path}: unknown top-level keys: {', '.join(sorted(unknown))}.")
    seen: set[str] = set()
    for number, job in enumerate(document["jobs"], 1):
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            raise FileRefused(f"{path}: job {number} needs an 'id'.")
        if job["id"] in seen:
            raise FileRefused(f"{path}: job id {job['id']!r} appears twice.")
        seen.add(job["id"])
    prune_tag = document.get("prune_tag")
    if prune_tag is not None and not isinstance(prune_tag, str):
        raise FileRefused(f"{path}: prune_tag must be a string.")
    return document["jobs"], prune_tag


class Planner:
    """Compares a file's job with the service's (the fields the file gives)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._defaults: dict[str, dict[str, Any]] | None = None

    def type_defaults(self, job_type: str) -> dict[str, Any]:
        """The defaults the type's schema fills in (configuration keys left out)."""
        if self._defaults is None:
            self._defaults = {
                t["name"]: {
                    key: spec["default"]
                    for key, spec in (t["config_schema"].get("properties") or {}).items()
                    if "default" in spec
                }
                for t in self.client.get("/api/job-types")
            }
        return self._defaults.get(job_type, {})

    def differences(self, wanted: dict[str, Any], current: dict[str, Any]) -> set[str]:
        """The fields of ``wanted`` whose value the service's job does not have."""
        differ = set()
        for field, value in wanted.items():
            if field == "id":
                continue
            if field == "schedule":
                if not self._same_schedule(value, wanted.get("timezone"), current):
                    differ.add(field)
            elif field == "configuration":
                job_type = wanted.get("type", current["type"])
                if self._settled(value, job_type) != self._settled(
                    current["configuration"], job_type
                ):
                    differ.add(field)
            elif field == "tags":
                if sorted(set(value or ())) != current.get("tags"):
                    differ.add(field)
            elif field == "notify":
                if not _same_notify(value, current.get("notify")):
                    differ.add(field)
            elif current.get(field) != value:
                differ.add(field)
        return differ

    def _settled(self, configuration: Any, job_type: str) -> Any:
        """A configuration without the keys at their default or empty (the service
        fills those in, so a file may leave them out)."""
        if not isinstance(configuration, dict):
            return configuration
        defaults = self.type_defaults(job_type)
        return {
            key: value
            for key, value in configuration.items()
            if value not in (None, {}, []) and not (key in defaults and defaults[key] == value)
        }

    def _same_schedule(self, text: Any, timezone: str | None, current: dict) -> bool:
        if text == current["schedule"]:
            return True
        try:
            answer = self.client.post(
                "/api/schedules/preview",
                {"schedule": text, "timezone": timezone or current["timezone"], "count": 1},
            )
        except ServiceError:
            return False  # the update will say what is wrong with it
        return answer["schedule"] == current["schedule"]


def _same_notify(wanted: Any, shown: Any) -> bool:
    """The service shows URLs masked (``****``): a URL matches the one it masks."""
    if wanted is None or shown is None:
        return wanted == shown
    if list(wanted.get("on") or ["failure", "recovery", "missed"]) != shown.get("on"):
        return False
    urls, shown_urls = list(wanted.get("urls") or []), list(shown.get("urls") or [])
    if len(urls) != len(shown_urls):
        return False
    for url, masked in zip(urls, shown_urls, strict=True):
        pattern = ".+".join(re.escape(part) for part in masked.split(MASK))
        if url != masked and not re.fullmatch(pattern, url):
            return False
    return True


@contextlib.contextmanager
def _about(job_id: str) -> Iterator[None]:
    """A refusal inside names the job it is about."""
    try:
        yield
    except ServiceError as exc:
        raise ServiceError(exc.status, {"message": f"{job_id}: {exc.message}"}) from None


def apply_jobs(
    client: Client, jobs: list[dict[str, Any]], prune_tag: str | None, dry_run: bool, prune: bool
) -> None:
    planner = Planner(client)
    plan: list[tuple[str, dict[str, Any], set[str]]] = []
    for wanted in jobs:
        current = client.job_or_none(wanted["id"])
        if current is None:
            plan.append(("create", wanted, set(wanted) - {"id"}))
            continue
        differ = planner.differences(wanted, current)
        plan.append(("update" if differ else "unchanged", wanted, differ))
    doomed: list[str] = []
    if prune:
        listed = {job["id"] for job in jobs}
        doomed = [job["id"] for job in client.all_jobs((prune_tag,)) if job["id"] not in listed]
    for action, wanted, _ in plan:
        click.echo(f"{action} {wanted['id']}")
    for job_id in doomed:
        click.echo(f"delete {job_id}")
    if dry_run:
        return
    for action, wanted, differ in plan:  # the jobs, without their chains
        body = {k: v for k, v in wanted.items() if k in differ and k not in CHAIN_FIELDS}
        with _about(wanted["id"]):
            if action == "create":
                client.post("/api/jobs", {"id": wanted["id"], **body})
            elif body:
                client.put(f"/api/jobs/{wanted['id']}", body)
    for _, wanted, differ in plan:  # then the chains, every job now there
        chains = {k: wanted[k] for k in CHAIN_FIELDS if k in differ}
        if chains:
            with _about(wanted["id"]):
                client.put(f"/api/jobs/{wanted['id']}", chains)
    for job_id in doomed:
        client.delete(f"/api/jobs/{job_id}")


def exported(job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A job as ``apply`` takes it; True when its notify URLs hide a secret (left out)."""
    out = {key: job[key] for key in EXPORTED if job.get(key) is not None}
    hidden = any(MASK in url for url in ((job.get("notify") or {}).get("urls") or []))
    if hidden:
        out.pop("notify")
    return out, hidden


def register(main: click.Group) -> None:
    """Add ``apply`` and ``export`` to the command group."""

    @main.command("apply")
    @click.option("-f", "--file", "path", required=True,
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The jobs file (YAML or JSON).")  # fmt: skip
    @click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
    @click.option(
        "--prune", is_flag=True, help="Delete jobs with the file's prune_tag not in the file."
    )
    @click.pass_obj
    def apply_command(client: Client, path: Path, dry_run: bool, prune: bool) -> None:
        """Create, update or leave each job of a file; one line per job."""
        jobs, prune_tag = read_jobs_file(path)
        if prune and not prune_tag:
            raise FileRefused(
                f"{path}: --prune needs a prune_tag in the file (only jobs with that tag "
                "are deleted)."
            )
        apply_jobs(client, jobs, prune_tag, dry_run, prune)

    @main.command("export")
    @click.option("--tag", "tags", multiple=True, help="Only jobs with this tag (repeat: all).")
    @click.pass_obj
    def export_command(client: Client, tags: tuple[str, ...]) -> None:
        """Print the jobs as a file that apply takes (YAML)."""
        jobs = []
        for job in client.all_jobs(tags):
            out, hidden = exported(job)
            if hidden:
                click.echo(
                    f"warning: {job['id']}: its notify URLs hide secrets; left out", err=True
                )
            jobs.append(out)
        click.echo(yaml.safe_dump({"jobs": jobs}, sort_keys=False, allow_unicode=True), nl=False)
