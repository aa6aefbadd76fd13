"""Bare APScheduler 3.11: BackgroundScheduler, SQLite job store, 20 threads.

Run as a child process: ``python -m bench.peers.bare_aps SPEC_JSON``. It adds the jobs,
waits for the workload to pass, and prints one JSON line (when its adds finished; for
run-now, when it called ``modify_job`` for each run).
"""

import datetime as dt
import json
import sys
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bench.peers.tasks import hit


def main() -> None:
    spec = json.loads(sys.argv[1])
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=spec["db_url"])},
        executors={"default": ThreadPoolExecutor(20)},
        timezone=dt.UTC,
    )
    scheduler.start()
    base = spec["recorder"]
    if spec["kind"] == "burst":
        due = dt.datetime.fromtimestamp(spec["due"], dt.UTC)
        for i in range(spec["count"]):
            scheduler.add_job(hit, "date", run_date=due, args=[f"{base}/hit/b{i}"], id=f"b{i}")
    elif spec["kind"] == "run-now":  # one job, told to run now again and again
        calls = []
        scheduler.add_job(hit, "interval", hours=1, args=[f"{base}/hit/n0"], id="n0")
        for i in range(spec["count"]):
            path = f"n{i}"
            scheduler.modify_job("n0", args=[f"{base}/hit/{path}"])
            started = time.time()
            scheduler.modify_job("n0", next_run_time=dt.datetime.now(dt.UTC))
            calls.append([path, started])
            time.sleep(0.15)
        print(json.dumps({"added_at": time.time(), "calls": calls}), flush=True)
        scheduler.shutdown(wait=False)
        return
    else:  # steady: interval jobs, phases spread evenly over the interval
        start = dt.datetime.fromtimestamp(spec["start"], dt.UTC)
        for i in range(spec["count"]):
            phase = dt.timedelta(seconds=spec["interval"] * i / spec["count"])
            scheduler.add_job(
                hit,
                "interval",
                seconds=spec["interval"],
                start_date=start + phase,
                args=[f"{base}/hit/s{i}"],
                id=f"s{i}",
            )
    print(json.dumps({"added_at": time.time()}), flush=True)
    time.sleep(max(0.0, spec["until"] - time.time()))
    scheduler.shutdown(wait=False)


if __name__ == "__main__":
    main()
