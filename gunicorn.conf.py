"""gunicorn settings: bind from CRONWELL_HOST/PORT, workers from WEB_CONCURRENCY."""

import os
import subprocess
import sys

bind = f"{os.environ.get('CRONWELL_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# gunicorn's threaded worker: one slow request does not hold up the others in a worker.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Runs are executed by the scheduler threads, not in requests: keep the default timeout.
timeout = 30
graceful_timeout = int(os.environ.get("CRONWELL_SHUTDOWN_GRACE_SECONDS", "30")) + 5
# The longest request line gunicorn allows (its default, 4094, answered longer query
# strings with its own HTML 414 before the app could say which parameter is too long).
limit_request_line = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None


def on_starting(server):
    """Bring the database to the latest schema before any worker starts, in a process of
    its own (Alembic's modules are not kept in the master, and so not in the workers)."""
    subprocess.run([sys.executable, "-m", "app.migrate"], check=True)


def post_worker_init(worker):
    """Start this worker's scheduler side after fork (it leads only if it wins the lock)."""
    runtime = getattr(worker.wsgi, "extensions", {}).get("cronwell")
    if runtime is not None:
        runtime.start()


def worker_exit(server, worker):
    """Stop taking fires and let running executions finish (up to the shutdown grace)."""
    runtime = getattr(worker.wsgi, "extensions", {}).get("cronwell")
    if runtime is not None:
        runtime.shutdown()
