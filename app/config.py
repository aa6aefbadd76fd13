"""Configuration defaults; each key can be overridden by instance/config.py and CRONWELL_<KEY>.

Order of precedence (last wins): these defaults, ``instance/config.py``, environment
variables ``CRONWELL_<KEY>`` (read with Flask's ``from_prefixed_env``, so values are parsed as
JSON when they can be: ``true``, ``10``, ``{"a": "b"}``), then the mapping passed to
``create_app``.
"""

# SQLAlchemy URL of the database. None means a SQLite file in the instance folder.
DATABASE_URL: str | None = None
# Bearer token required on every /api call when set. /healthz stays open.
API_TOKEN: str | None = None
# Address `make run` binds (read by gunicorn.conf.py); a warning is logged when it is not
# a loopback address and no API_TOKEN is set.
HOST = "127.0.0.1"
# Default timezone of new jobs (IANA name). The scheduler itself always runs in UTC.
TIMEZONE = "UTC"
# Executions this worker process runs at once; further due runs wait as `queued`, in fire
# order, for any worker with a free slot.
MAX_CONCURRENT = 10
# Run executions in this instance's processes. False makes an API-only instance (it still
# plans fires when it leads).
EXECUTE = True
# This instance's worker labels (a JSON object): a job runs only on workers that have all
# of its run_on labels.
WORKER_LABELS: dict[str, str] = {}
# {"group": limit}: at most that many executions of the group's jobs (concurrency_group)
# run at once, across every worker.
CONCURRENCY_GROUPS: dict[str, int] = {}
# Seconds a claimed run stays its worker's without a renewal (renewed every third of
# it), and the leader's lease: a worker or leader that stops renewing (crashed, frozen,
# cut off) is replaced, and its runs are recorded `interrupted`, within about this long.
LEASE_SECONDS = 30
# How often each worker reads the queue for due runs queued elsewhere (seconds). A
# run-now is claimed at once by the process that took it and, on PostgreSQL, wakes the
# other workers (LISTEN/NOTIFY).
POLL_SECONDS = 0.5
# How far ahead (seconds) the scheduler writes fires as `queued` rows; each then starts at
# its time. 0 writes each fire at its time (APScheduler's way; fires start later).
PREFIRE_SECONDS = 1.0
# Allow the `shell` job type (it runs commands on this host).
SHELL_JOBS_ENABLED = False
# Where runs of the agent job types (prompt, skill, pipeline) are posted.
AGENT_WEBHOOK_URL: str | None = None
# Executions kept per job; older ones are pruned in the background.
HISTORY_LIMIT = 1000
# Seconds running executions get to finish on shutdown before they are recorded
# `interrupted`.
SHUTDOWN_GRACE_SECONDS = 30
# Extra job types, {"name": "module:callable"}; see docs/job-types.md.
JOB_TYPES: dict[str, str] = {}
# Job types to refuse even though registered (e.g. ["http"]).
DISABLED_JOB_TYPES: list[str] = []
# Optional list of host names `http` jobs may call (None: any host).
HTTP_ALLOWED_HOSTS: list[str] | None = None
# Largest request body accepted, in bytes (413 beyond).
MAX_CONTENT_LENGTH = 1024 * 1024
# Start the scheduler side from create_app(). wsgi.py turns this off and gunicorn starts it
# per worker after fork; an embedding application keeps the default.
SCHEDULER_AUTOSTART = True
# Take part in running the scheduler. False makes an API-only process (it never leads).
SCHEDULER_ENABLED = True
# How often a process that does not lead retries the leader lock, and how often the
# leader polls the database for changes made by other processes (seconds).
LEADER_RETRY_SECONDS = 1.0
SYNC_INTERVAL_SECONDS = 0.5
# How often a process being scraped renders /metrics afresh (seconds): a scrape answers
# from the last rendering, so a figure is at most about this old. 0 renders every scrape.
METRICS_REFRESH_SECONDS = 5.0
# Log level of the cronwell loggers.
LOG_LEVEL = "INFO"
# Log lines as plain text ("text") or one JSON object per line ("json"); lines about a
# run carry job_id and execution_id.
LOG_FORMAT = "text"
# Where notifications go for jobs whose `notify` is null (http(s):// URLs get a JSON
# POST; slack://, mailto://, ntfy://, ... go through apprise), and for which events.
NOTIFY_URLS: list[str] = []
NOTIFY_ON = ["failure", "recovery", "missed"]
# The service's address as people reach it: notifications link to the run's page. An
# https:// address also marks the UI's session cookie Secure.
PUBLIC_URL: str | None = None
# Signs the web UI's session cookies. Unset: a random key made once and kept in
# instance/secret_key (set it when several hosts serve one database).
SECRET_KEY: str | None = None
# Seconds one notification try may take; tries in all before a notification is
# `failed`; the wait after the first failed try (doubling after each).
NOTIFY_TIMEOUT_SECONDS = 10
NOTIFY_ATTEMPTS = 8
NOTIFY_RETRY_SECONDS = 5
# Notifications sent at once (each a thread of the leader's sender).
NOTIFY_THREADS = 4
