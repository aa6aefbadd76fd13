"""gunicorn settings: bind from the service's HOST setting and PORT, workers from
WEB_CONCURRENCY."""

import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile

from app.config import Settings
from app.logs import MaskPingKeys, gunicorn_config

# /metrics: every worker writes its instruments' values to files here, and any worker
# reads them all (prometheus-client's multiprocess mode, see app/instruments.py). Set
# before a worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cronwell-metrics-")
    _OWN_METRICS_DIR = True
else:
    _OWN_METRICS_DIR = False

# The database is brought to the latest schema before any worker starts, in a process of
# its own that also reads the settings the master serves with (the last line it prints):
# Alembic's modules, and Flask's that reading settings needs, are not kept in the master.
_SERVING = ["HOST", "TRUSTED_PROXIES", "SHUTDOWN_GRACE_SECONDS", "LOG_FORMAT"]
_migrated = subprocess.run(
    [sys.executable, "-m", "app.migrate", "--print-settings", *_SERVING],
    check=True,
    stdout=subprocess.PIPE,
    text=True,
)
settings = Settings.load(json.loads(_migrated.stdout.splitlines()[-1]))
bind = f"{settings.host}:{os.environ.get('PORT', '8000')}"
# X-Forwarded-Proto is believed only from the trusted proxies (none by default).
forwarded_allow_ips = ",".join(settings.trusted_proxies)
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# gunicorn's threaded worker: one slow request does not hold up the others in a worker.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Runs are executed by the scheduler threads, not in requests: keep the default timeout.
timeout = 30
graceful_timeout = int(settings.shutdown_grace_seconds) + 5
# The longest request line gunicorn allows (its default, 4094, answered longer query
# strings with its own HTML 414 before the app could say which parameter is too long).
limit_request_line = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
# CRONWELL_LOG_FORMAT=json: gunicorn's own and access lines are JSON objects too.
logconfig_dict = gunicorn_config(settings.log_format.lower())


def on_starting(server):
    """Values a previous run left in the metrics directory are cleared."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    """A worker's live gauges (the leader gauge) leave with it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Start this worker's scheduler side after fork (it leads only if it wins the lock).
    Its access lines mask ping URLs' keys (app/logs.py)."""
    logging.getLogger("gunicorn.access").addFilter(MaskPingKeys())
    runtime = getattr(worker.wsgi, "extensions", {}).get("cronwell")
    if runtime is not None:
        runtime.start()
    # The objects made so far (modules, the app, the scheduler's jobs) live as long as the
    # worker: out of the garbage collector's sight, its full collections stop every
    # thread for a few milliseconds instead of 65-90 (fires were late by that much).
    gc.freeze()


def worker_exit(server, worker):
    """Stop taking fires and let running executions finish (up to the shutdown grace)."""
    runtime = getattr(worker.wsgi, "extensions", {}).get("cronwell")
    if runtime is not None:
        runtime.shutdown()
