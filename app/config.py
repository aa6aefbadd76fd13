"""The service's settings: one typed object, read once at start, with every default here.

Order of precedence (last wins): these defaults, ``instance/config.py`` (upper-case names,
``MAX_CONCURRENT = 4``), environment variables ``CRONWELL_<NAME>`` (read with Flask's
``from_prefixed_env``, so values are parsed as JSON when they can be: ``true``, ``10``,
``{"a": "b"}``), then the mapping passed to ``create_app``. :meth:`Settings.load` checks
each value's type and names the variable that is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Config


class SettingError(ValueError):
    """A setting of the wrong kind (the message names its variable)."""


@dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the database. None means a SQLite file in the instance folder.
    database_url: str | None = None
    # Bearer token required on every /api call when set. /healthz stays open.
    api_token: str | None = None
    # Address `make run` binds (read by gunicorn.conf.py); a warning is logged when it is not
    # a loopback address and no API_TOKEN is set.
    host: str = "127.0.0.1"
    # Default timezone of new jobs (IANA name). The scheduler itself always runs in UTC.
    timezone: str = "UTC"
    # Executions this worker process runs at once; further due runs wait as `queued`, in fire
    # order, for any worker with a free slot.
    max_concurrent: int = 10
    # Run executions in this instance's processes. False makes an API-only instance (it still
    # plans fires when it leads).
    execute: bool = True
    # This instance's worker labels (a JSON object): a job runs only on workers that have all
    # of its run_on labels.
    worker_labels: dict[str, str] = field(default_factory=dict)
    # {"group": limit}: at most that many executions of the group's jobs (concurrency_group)
    # run at once, across every worker.
    concurrency_groups: dict[str, int] = field(default_factory=dict)
    # Seconds a claimed run stays its worker's without a renewal (renewed every third of
    # it), and the leader's lease: a worker or leader that stops renewing (crashed, frozen,
    # cut off) is replaced, and its runs are recorded `interrupted`, within about this long.
    lease_seconds: float = 30.0
    # How often each worker reads the queue for due runs queued elsewhere (seconds). A
    # run-now is claimed at once by the process that took it and, on PostgreSQL, wakes the
    # other workers (LISTEN/NOTIFY).
    poll_seconds: float = 0.5
    # How far ahead (seconds) the scheduler writes fires as `queued` rows; each then starts at
    # its time. 0 writes each fire at its time (APScheduler's way; fires start later).
    prefire_seconds: float = 1.0
    # Allow the `shell` job type (it runs commands on this host).
    shell_jobs_enabled: bool = False
    # Where runs of the agent job types (prompt, skill, pipeline) are posted.
    agent_webhook_url: str | None = None
    # Executions kept per job; older ones are pruned in the background.
    history_limit: int = 1000
    # Seconds running executions get to finish on shutdown before they are recorded
    # `interrupted`.
    shutdown_grace_seconds: float = 30.0
    # Extra job types, {"name": "module:callable"}; see docs/job-types.md.
    job_types: dict[str, Any] = field(default_factory=dict)
    # Job types to refuse even though registered (e.g. ["http"]).
    disabled_job_types: list[str] = field(default_factory=list)
    # Optional list of host names `http` jobs may call (None: any host).
    http_allowed_hosts: list[str] | None = None
    # Largest request body accepted, in bytes (413 beyond).
    max_content_length: int = 1024 * 1024
    # Start the scheduler side from create_app(). wsgi.py turns this off and gunicorn starts it
    # per worker after fork; an embedding application keeps the default.
    scheduler_autostart: bool = True
    # Take part in running the scheduler. False makes an API-only process (it never leads).
    scheduler_enabled: bool = True
    # How often a process that does not lead retries the leader lock, and how often the
    # leader polls the database for changes made by other processes (seconds).
    leader_retry_seconds: float = 1.0
    sync_interval_seconds: float = 0.5
    # How often a process being scraped renders /metrics afresh (seconds): a scrape answers
    # from the last rendering, so a figure is at most about this old. 0 renders every scrape.
    metrics_refresh_seconds: float = 5.0
    # Log level of the cronwell loggers.
    log_level: str = "INFO"
    # Log lines as plain text ("text") or one JSON object per line ("json"); lines about a
    # run carry job_id and execution_id.
    log_format: str = "text"
    # Where notifications go for jobs whose `notify` is null (http(s):// URLs get a JSON
    # POST; slack://, mailto://, ntfy://, ... go through apprise), and for which events.
    notify_urls: list[str] = field(default_factory=list)
    notify_on: list[str] = field(default_factory=lambda: ["failure", "recovery", "missed"])
    # The service's address as people reach it: notifications link to the run's page. An
    # https:// address also marks the UI's session cookie Secure.
    public_url: str | None = None
    # Signs the web UI's session cookies. Unset: a random key made once and kept in
    # instance/secret_key (set it when several hosts serve one database).
    secret_key: str | None = None
    # How long a web UI session lasts after signing in (hours).
    session_hours: float = 12.0
    # Addresses or networks (a JSON list: ["10.0.0.5", "10.1.0.0/16"]) of the reverse
    # proxies in front of the service: only a request from one of them has its
    # X-Forwarded-Proto and X-Forwarded-For believed. Empty: nobody's.
    trusted_proxies: list[str] = field(default_factory=list)
    # Wrong credentials (API keys, tokens, passwords) one address may give in a minute;
    # past it, that address gets 429 for the rest of the minute.
    auth_failures_per_minute: int = 10
    # Pings one heartbeat monitor takes in a minute (per process); past it, 429.
    pings_per_minute: int = 60
    # A request from one of these addresses (CIDRs) that carries AUTH_PROXY_HEADER acts as
    # the user it names (made on first sight with AUTH_PROXY_DEFAULT_ROLE). Unset header:
    # no proxy sign-in.
    auth_proxy_header: str | None = None
    auth_proxy_trusted: list[str] = field(default_factory=lambda: ["127.0.0.1/32"])
    auth_proxy_default_role: str = "viewer"
    # Days audit entries are kept.
    audit_retention_days: float = 365.0
    # Seconds one notification try may take; tries in all before a notification is
    # `failed`; the wait after the first failed try (doubling after each).
    notify_timeout_seconds: float = 10.0
    notify_attempts: int = 8
    notify_retry_seconds: float = 5.0
    # Notifications sent at once (each a thread of the leader's sender).
    notify_threads: int = 4

    #: Every other upper-case key of the configuration (Flask's own, a plugin's), as given.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, config: Mapping[str, Any]) -> Settings:
        """The settings from a configuration mapping of upper-case names (Flask's)."""
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        known = set()
        for spec in dataclasses.fields(cls):
            if spec.name == "extra":
                continue
            key = spec.name.upper()
            known.add(key)
            if key in config:
                values[spec.name] = _checked(key, config[key], hints[spec.name])
        extra = {k: v for k, v in config.items() if k.isupper() and k not in known}
        return cls(**values, extra=extra)

    def plain(self) -> dict[str, Any]:
        """The settings as upper-case names, for :meth:`load` in another process (the
        notification sender's): every value JSON can carry, but the secrets it has no
        use for."""
        plain = {}
        for key, value in {**self.extra, **{k.upper(): v for k, v in vars(self).items()}}.items():
            if key in ("EXTRA", "API_TOKEN", "SECRET_KEY"):
                continue
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                continue
            plain[key] = value
        return plain

    @classmethod
    def names(cls) -> list[str]:
        """The upper-case names of every setting (CRONWELL_ + name in the environment)."""
        return [f.name.upper() for f in dataclasses.fields(cls) if f.name != "extra"]


def _checked(key: str, value: Any, hint: Any) -> Any:
    """``value`` as ``hint`` asks (an int for a float, "3" for an int, "true" for a bool)."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        origin = typing.get_origin(kind) or kind
        if origin is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "false", "0", "no"):
                return str(value).lower() in ("true", "1", "yes")
        elif origin in (int, float):
            if isinstance(value, bool):
                continue
            try:
                number = origin(value)
            except (TypeError, ValueError):
                continue
            if origin is int and isinstance(value, float) and value != number:
                continue
            return number
        elif (origin is str and isinstance(value, str)) or (
            origin in (list, dict) and isinstance(value, origin)
        ):
            return value
        elif origin is list and isinstance(value, tuple):
            return list(value)
    wanted = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    raise SettingError(f"CRONWELL_{key} must be {wanted}, not {value!r}")


def read_settings(
    instance_path: str, overrides: Mapping[str, Any] | None = None
) -> tuple[Settings, Config]:
    """The settings (defaults, instance/config.py, CRONWELL_* variables, ``overrides``),
    and everything that was given, as Flask config (Flask's own keys set there too)."""
    from flask import Config

    given = Config(instance_path)
    given.from_pyfile("config.py", silent=True)
    given.from_prefixed_env("CRONWELL")
    if overrides:
        given.update(overrides)
    settings = Settings.load(given)
    if not settings.database_url:  # cronwell.db in the instance folder
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(instance_path) / 'cronwell.db'}"
        settings = dataclasses.replace(settings, database_url=url)
    return settings, given


def instance_settings() -> Settings:
    """The settings the service at this checkout runs with (gunicorn.conf.py and
    ``python -m app.migrate`` read them before any app is built)."""
    from flask import Flask

    return read_settings(Flask("app", instance_relative_config=True).instance_path)[0]
