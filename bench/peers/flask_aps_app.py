"""Flask-APScheduler 1.13 with its REST API and the same SQLite job store (20 threads)."""

import os

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from flask import Flask
from flask_apscheduler import APScheduler


class Config:
    SCHEDULER_API_ENABLED = True
    SCHEDULER_JOBSTORES = {"default": SQLAlchemyJobStore(url=os.environ["BENCH_DB_URL"])}
    SCHEDULER_EXECUTORS = {"default": {"type": "threadpool", "max_workers": 20}}
    SCHEDULER_TIMEZONE = "UTC"


app = Flask(__name__)
app.config.from_object(Config)
scheduler = APScheduler()
scheduler.init_app(app)
scheduler.start()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
