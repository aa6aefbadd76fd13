"""How the peers are served: gunicorn's own threaded worker (gthread), with Cronwell's
settings (one worker, 8 threads), as a Flask-APScheduler user would run it."""

import os

bind = f"127.0.0.1:{os.environ['PORT']}"
workers = 1
worker_class = "gthread"
threads = 8
timeout = 30
accesslog = None
