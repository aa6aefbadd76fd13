"""WSGI entry point for gunicorn: ``gunicorn --config gunicorn.conf.py wsgi:app``."""

from app import create_app

# The scheduler is started per worker by gunicorn.conf.py (post_worker_init), never here:
# with --preload this module is imported in the master, and threads do not survive fork.
app = create_app({"SCHEDULER_AUTOSTART": False})
