"""Run every workload against Cronwell and its peers in one run; print a table, write JSON.

    python -m bench.run [--tiny] [--only NAME ...] [--json PATH]

Peers: bare APScheduler 3.11 (BackgroundScheduler, SQLite job store, 20 threads) and
Flask-APScheduler 1.13 with the same store. Every job does one HTTP GET to a recorder on
127.0.0.1 that notes the arrival time; lateness is arrival minus the time the fire was
due. Cronwell runs as `make run` runs it, with WEB_CONCURRENCY=2 (two gunicorn workers,
each claiming runs) and 10 run slots each: 20 in all, like the peers' 20 threads. The
sustained workload also runs one worker with 20 slots, to compare. Nothing here asserts
a bar: it measures and reports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import populate
from bench.recorder import Recorder
from bench.servers import ROOT, Client, Server
from bench.sink import Sink

FULL = {
    "burst": 1000,
    "steady_jobs": 200,
    "steady_seconds": 30,
    "create": 1000,
    "read_jobs": 10_000,
    "read_executions": 1_000_000,
    "read_samples": 300,
    "start_jobs": 10_000,
    "sustained_jobs": 2000,
    "sustained_seconds": 20,
    "large_jobs": 100_000,
    "run_now": 100,
    "notifier_rounds": 3,
}
TINY = {
    "burst": 20,
    "steady_jobs": 10,
    "steady_seconds": 3,
    "create": 30,
    "read_jobs": 200,
    "read_executions": 2_000,
    "read_samples": 20,
    "start_jobs": 200,
    "sustained_jobs": 20,
    "sustained_seconds": 3,
    "large_jobs": 500,
    "run_now": 5,
    "notifier_rounds": 1,
}
SLOTS = "20"
#: Cronwell's gunicorn workers, and the run slots of each (SLOTS in all).
WORKERS = "2"
SLOTS_PER_WORKER = "10"
#: Creates a round in the create workload (alternating between the two servers).
CREATE_ROUND = 100
#: Flask-APScheduler is served by stock gunicorn (gthread, 8 threads), not Cronwell's worker.
PEER_GUNICORN_CONFIG = "bench/peers/gunicorn.conf.py"


@dataclass
class Figure:
    workload: str
    figure: str
    unit: str
    cronwell: float
    peers: dict[str, float] = field(default_factory=dict)
    bar: str = ""
    met: bool | None = None

    @classmethod
    def under(cls, workload: str, figure: str, ms: float, limit_ms: float) -> Figure:
        """A latency figure whose bar is "under ``limit_ms``"."""
        return cls(workload, figure, "ms", ms, bar=f"< {limit_ms} ms", met=ms < limit_ms)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, sizes: dict[str, int], workdir: Path) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.recorder = Recorder()
        self.figures: list[Figure] = []

    def db(self, name: str) -> tuple[Path, str]:
        path = self.workdir / f"{name}.db"
        return path, f"sqlite:///{path}"

    def cronwell(self, name: str, **env: str) -> tuple[Server, Path]:
        path, url = self.db(name)
        server = Server(
            "wsgi:app",
            {
                "CRONWELL_DATABASE_URL": url,
                "WEB_CONCURRENCY": WORKERS,
                "CRONWELL_MAX_CONCURRENT": SLOTS_PER_WORKER,
                **env,
            },
            "/healthz",
            self.workdir,
        )
        server.wait_healthy()
        return server, path

    def flask_aps(self, name: str) -> Server:
        _, url = self.db(name)
        server = Server(
            "bench.peers.flask_aps_app:app",
            {"BENCH_DB_URL": url},
            "/healthz",
            self.workdir,
            config=PEER_GUNICORN_CONFIG,
        )
        server.wait_healthy()
        return server

    def bare_aps(self, spec: dict) -> dict:
        _, url = self.db(f"bare-{spec['kind']}")
        spec = {**spec, "db_url": url, "recorder": self.recorder.url}
        done = subprocess.run(
            [sys.executable, "-m", "bench.peers.bare_aps", json.dumps(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=spec["until"] - time.time() + 120,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def create_http_jobs(
        self, server: Server, prefix: str, count: int, schedule: str, **fields
    ) -> None:
        """Create ``count`` Cronwell http jobs ``{prefix}-{i}`` that hit the recorder."""
        for i in range(count):
            self.create_http_job(server, prefix, i, schedule, **fields)

    def create_http_job(self, server: Server, prefix: str, i: int, schedule: str, **fields) -> None:
        server.client.post(
            "/api/jobs",
            {
                "id": f"{prefix}-{i}",
                "name": f"{prefix} {i}",
                "type": "http",
                "schedule": schedule,
                "configuration": {"url": f"{self.recorder.url}/hit/{prefix}-{i}"},
                **fields,
            },
        )

    @staticmethod
    def wait_synced(db_path: Path, timeout: float = 30) -> None:
        """Until the leader has put every changed job in APScheduler's store."""
        deadline = time.monotonic() + timeout
        with sqlite3.connect(db_path) as db:
            while time.monotonic() < deadline:
                if not db.execute("SELECT count(*) FROM jobs WHERE sync_pending").fetchone()[0]:
                    return
                time.sleep(0.002)

    def wait_arrivals(self, expected: int, until: float) -> None:
        while time.time() < until and self.recorder.total() < expected:
            time.sleep(0.05)

    # -- workloads -------------------------------------------------------------------------

    def _cronwell_burst(self, name: str, **env: str) -> tuple[list[float], int, int]:
        """Cronwell's half of the burst: (lateness in ms of each run, runs, rows)."""
        count = self.sizes["burst"]
        server, db_path = self.cronwell(name, **env)
        try:
            self.recorder.reset()
            due = time.time() + 5 + count * 0.015
            due_iso = dt.datetime.fromtimestamp(due, dt.UTC).isoformat()
            self.create_http_jobs(server, "burst", count, due_iso)
            print(f"  burst: Cronwell jobs created with {due - time.time():.1f} s to spare")
            self.wait_arrivals(count, due + 60)
            time.sleep(1)
            arrivals = self.recorder.snapshot()
            with sqlite3.connect(db_path) as db:
                rows = db.execute(
                    "SELECT count(*) FROM executions WHERE status = 'success'"
                ).fetchone()[0]
        finally:
            server.stop()
        self.recorder.reset()
        return [(times[0] - due) * 1000 for times in arrivals.values()], len(arrivals), rows

    def burst(self) -> None:
        count = self.sizes["burst"]
        cw_late, runs, rows = self._cronwell_burst("cronwell-burst")
        peer_due = time.time() + 5 + count * 0.01
        settle = 20 if count >= 100 else 3
        self.bare_aps(
            {"kind": "burst", "count": count, "due": peer_due, "until": peer_due + settle}
        )
        peer = self.recorder.snapshot()
        peer_late = [(times[0] - peer_due) * 1000 for times in peer.values()]
        floor = self.http_floor(count)
        self.figures += [
            Figure(
                "burst",
                f"runs of {count} (Cronwell rows: {rows})",
                "runs",
                runs,
                {"apscheduler": len(peer)},
                f"{count} of {count}, a row each",
                runs == count and rows == count,
            ),
            Figure(
                "burst", "p50 lateness", "ms", pct(cw_late, 50), {"apscheduler": pct(peer_late, 50)}
            ),
            Figure(
                "burst",
                "p99 lateness",
                "ms",
                pct(cw_late, 99),
                {"apscheduler": pct(peer_late, 99)},
                "<= 0.5 x APScheduler",
                pct(cw_late, 99) <= 0.5 * pct(peer_late, 99),
            ),
            Figure(
                "burst",
                f"floor: {count} bare GETs from {SLOTS} threads of one process "
                f"(CPU {floor['cpu_seconds'] * 1000:.0f} ms)",
                "ms",
                floor["seconds"] * 1000,
            ),
        ]

    def http_floor(self, count: int) -> dict:
        """How long ``count`` bare GETs to the recorder take from SLOTS threads of one
        process: no scheduler, no rows, no bookkeeping (bench.peers.floor)."""
        self.recorder.reset()
        spec = {"count": count, "threads": int(SLOTS), "recorder": self.recorder.url}
        done = subprocess.run(
            [sys.executable, "-m", "bench.peers.floor", json.dumps(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        self.recorder.reset()
        return json.loads(done.stdout.strip().splitlines()[-1])

    @staticmethod
    def _steady_lateness(
        arrivals: dict[str, list[float]], phases: dict[str, float], start: float, end: float
    ) -> list[float]:
        """Lateness (ms) of each arrival in [start, end) against its job's 1 s grid."""
        late = []
        for key, times in arrivals.items():
            phase = phases.get(key)
            if phase is None:
                continue
            late += [((t - phase) % 1.0) * 1000 for t in times if start <= t < end]
        return late

    def _cronwell_steady(self, name: str, **env: str) -> list[float]:
        """Cronwell's half of the steady workload: the lateness in ms of each fire."""
        jobs, seconds = self.sizes["steady_jobs"], self.sizes["steady_seconds"]
        server, db_path = self.cronwell(name, **env)
        try:
            self.create_http_jobs(server, "steady", jobs, "1s")
            time.sleep(2)  # warm up
            self.recorder.reset()
            start = time.time()
            time.sleep(seconds)
            end = time.time()
            time.sleep(1)
            arrivals = self.recorder.snapshot()
            with sqlite3.connect(db_path) as db:
                phases = {
                    job_id: dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC).timestamp()
                    for job_id, first in db.execute(
                        "SELECT job_id, min(scheduled_at) FROM executions GROUP BY job_id"
                    )
                }
        finally:
            server.stop()
        self.recorder.reset()
        return self._steady_lateness(arrivals, phases, start, end)

    def steady(self) -> None:
        jobs, seconds = self.sizes["steady_jobs"], self.sizes["steady_seconds"]
        cw_late = self._cronwell_steady("cronwell-steady")
        peer_start = time.time() + 3 + jobs * 0.01
        self.bare_aps(
            {
                "kind": "steady",
                "count": jobs,
                "interval": 1,
                "start": peer_start,
                "until": peer_start + seconds + 3,
            }
        )
        peer = self.recorder.snapshot()
        phases = {f"s{i}": peer_start + i / jobs for i in range(jobs)}
        window = (peer_start + 2, peer_start + 2 + seconds)
        peer_late = self._steady_lateness(peer, phases, *window)
        expected = jobs * seconds
        self.figures += [
            Figure(
                "steady",
                f"fires run of {expected} due",
                "fires",
                len(cw_late),
                {"apscheduler": len(peer_late)},
                "all of them",
                len(cw_late) >= expected * 0.99,
            ),
            Figure(
                "steady",
                "p50 lateness",
                "ms",
                pct(cw_late, 50),
                {"apscheduler": pct(peer_late, 50)},
            ),
            Figure(
                "steady",
                "p99 lateness",
                "ms",
                pct(cw_late, 99),
                {"apscheduler": pct(peer_late, 99)},
                "<= APScheduler",
                pct(cw_late, 99) <= pct(peer_late, 99),
            ),
        ]

    def notifier(self) -> None:
        """Burst and steady with every run notifying (a JSON POST to a recorder in a process
        of its own, bench/sink.py) and
        without, interleaved, notifier_rounds times each: the noise is how far the runs
        without notifications are apart."""
        sink = Sink()
        notify = {
            "CRONWELL_NOTIFY_URLS": json.dumps([f"{sink.url}/notify/sink"]),
            "CRONWELL_NOTIFY_ON": json.dumps(["success", "failure"]),
        }
        try:
            for workload, measure in (
                ("burst", self._cronwell_burst),
                ("steady", self._cronwell_steady),
            ):
                p99: dict[str, list[float]] = {"without": [], "with": []}
                sent = 0
                for round_no in range(self.sizes["notifier_rounds"]):
                    for mode in ("without", "with"):
                        sink.reset()
                        env = notify if mode == "with" else {}
                        name = f"notifier-{workload}-{mode}-{round_no}"
                        result = measure(name, **env)
                        late = result[0] if workload == "burst" else result
                        p99[mode].append(pct(late, 99))
                        if mode == "with":
                            time.sleep(1)
                            sent += sink.total()
                self._notifier_figure(workload, p99, sent)
        finally:
            sink.close()

    def _notifier_figure(self, workload: str, p99: dict[str, list[float]], sent: int) -> None:
        without, with_ = p99["without"], p99["with"]
        noise = max(without) - min(without)
        moved = sum(with_) / len(with_) - sum(without) / len(without)
        runs = ", ".join(f"{v:.1f}" for v in without)
        self.figures.append(
            Figure(
                "notifier",
                f"{workload} p99 lateness, every run notifying ({sent} delivered meanwhile; "
                f"without: {runs} ms)",
                "ms",
                sum(with_) / len(with_),
                {"without notifications": sum(without) / len(without)},
                f"moved <= noise ({noise:.1f} ms)",
                abs(moved) <= noise,
            )
        )

    def create(self) -> None:
        """Creates from one client, in alternating rounds: both servers are up, and each
        round times ROUND creates on one then on the other, so a slow spell of the
        machine (run to run they differ by 30% here) falls on both."""
        count = self.sizes["create"]
        server, db_path = self.cronwell("cronwell-create")
        peer = self.flask_aps("flask-aps-create")
        spent = {"cronwell": 0.0, "peer": 0.0}
        try:
            for first in range(0, count, CREATE_ROUND):
                indexes = range(first, min(count, first + CREATE_ROUND))
                started = time.perf_counter()
                for i in indexes:
                    self.create_http_job(server, "create", i, "1h")
                self.wait_synced(db_path)  # the work a create leaves to the leader counts
                spent["cronwell"] += time.perf_counter() - started
                started = time.perf_counter()
                for i in indexes:
                    peer.client.post(
                        "/scheduler/jobs",
                        {
                            "id": f"create-{i}",
                            "func": "bench.peers.tasks:hit",
                            "trigger": "interval",
                            "hours": 1,
                            "args": [f"{self.recorder.url}/hit/create-{i}"],
                        },
                    )
                spent["peer"] += time.perf_counter() - started
        finally:
            server.stop()
            peer.stop()
        cw_rate, peer_rate = count / spent["cronwell"], count / spent["peer"]
        self.figures.append(
            Figure(
                "api-create",
                f"creates per second ({count} jobs, one client, rounds of {CREATE_ROUND})",
                "/s",
                cw_rate,
                {"flask-apscheduler": peer_rate},
                ">= 2 x Flask-APScheduler",
                cw_rate >= 2 * peer_rate,
            )
        )

    @staticmethod
    def _latencies(client: Client, paths: list[str]) -> list[float]:
        out = []
        for path in paths:
            started = time.perf_counter()
            client.get(path)
            out.append((time.perf_counter() - started) * 1000)
        return out

    def read(self) -> None:
        jobs, executions, samples = (
            self.sizes[k] for k in ("read_jobs", "read_executions", "read_samples")
        )
        _, url = self.db("cronwell-read")
        began = time.monotonic()
        ids = populate.cronwell(url, jobs, executions, self.recorder.url)
        took = time.monotonic() - began
        print(f"  read: populated {jobs} jobs, {executions} executions in {took:.1f} s")
        rng = random.Random(3)
        pages = max(1, jobs // 50)
        per_job_pages = max(1, executions // jobs // 50)
        server, _ = self.cronwell("cronwell-read", CRONWELL_HISTORY_LIMIT="1000000")
        try:
            self._latencies(server.client, ["/api/jobs"] * 5)  # warm up
            listing = self._latencies(
                server.client,
                [f"/api/jobs?page={rng.randint(1, pages)}&page_size=50" for _ in range(samples)],
            )
            one = self._latencies(
                server.client, [f"/api/jobs/{rng.choice(ids)}" for _ in range(samples)]
            )
            history = self._latencies(
                server.client,
                [
                    f"/api/jobs/{rng.choice(ids)}/executions"
                    f"?page={rng.randint(1, per_job_pages)}&page_size=50"
                    for _ in range(samples)
                ],
            )
            scrapes = self._latencies(server.client, ["/metrics"] * max(5, samples // 10))
            # The web UI's pages, as a browser asks for them (whole pages, rendered).
            ui_list = self._latencies(
                server.client, [f"/ui/jobs?page={rng.randint(1, pages)}" for _ in range(samples)]
            )
            ui_job = self._latencies(
                server.client, [f"/ui/jobs/{rng.choice(ids)}" for _ in range(samples)]
            )
            ui_dashboard = self._latencies(server.client, ["/ui/"] * max(5, samples // 10))
        finally:
            server.stop()
        self.figures += [
            Figure.under("api-read", f"list page p50 ({jobs} jobs)", pct(listing, 50), 10),
            Figure.under("api-read", "one job p50", pct(one, 50), 3),
            Figure.under(
                "api-read", f"executions page p50 ({executions} rows)", pct(history, 50), 15
            ),
            Figure.under("metrics", f"/metrics scrape p50 ({jobs} jobs)", pct(scrapes, 50), 100),
            Figure.under("ui", f"jobs page p50 ({jobs} jobs)", pct(ui_list, 50), 50),
            Figure.under("ui", f"job page p50 ({executions} executions)", pct(ui_job, 50), 50),
            Figure("ui", "dashboard p50", "ms", pct(ui_dashboard, 50)),
        ]
        # The peer's list has no pagination: all of its jobs in one response.
        _, peer_url = self.db("flask-aps-read")
        populate.apscheduler_store(peer_url, min(jobs, 1000), self.recorder.url)
        peer = self.flask_aps("flask-aps-read")
        try:
            peer_list = self._latencies(peer.client, ["/scheduler/jobs"] * max(5, samples // 10))
        finally:
            peer.stop()
        self.figures.append(
            Figure(
                "api-read",
                f"list {min(jobs, 1000)} jobs p50 (Flask-APScheduler: all at once)",
                "ms",
                pct(listing, 50),
                {"flask-apscheduler": pct(peer_list, 50)},
            )
        )

    def start(self) -> None:
        jobs = self.sizes["start_jobs"]
        _, url = self.db("cronwell-start")
        populate.cronwell(url, jobs, 0, self.recorder.url)
        # One gunicorn worker, as Flask-APScheduler is served: the same shape to compare.
        server = Server("wsgi:app", {"CRONWELL_DATABASE_URL": url}, "/healthz", self.workdir)
        try:
            cw_seconds = server.wait_healthy()
            time.sleep(1)
            cw_rss = server.rss_mib()
        finally:
            server.stop()
        _, peer_url = self.db("flask-aps-start")
        populate.apscheduler_store(peer_url, jobs, self.recorder.url)
        peer = Server(
            "bench.peers.flask_aps_app:app", {"BENCH_DB_URL": peer_url}, "/healthz", self.workdir
        )
        try:
            peer_seconds = peer.wait_healthy()
            time.sleep(1)
            peer_rss = peer.rss_mib()
        finally:
            peer.stop()
        self.figures += [
            Figure(
                "start",
                f"seconds to healthy ({jobs} jobs)",
                "s",
                cw_seconds,
                {"flask-apscheduler": peer_seconds},
                "< 2 s",
                cw_seconds < 2,
            ),
            Figure(
                "start",
                "RSS after start",
                "MiB",
                cw_rss,
                {"flask-apscheduler": peer_rss},
                "<= 1.2 x Flask-APScheduler",
                cw_rss <= 1.2 * peer_rss,
            ),
        ]

    def large(self) -> None:
        """A service with 100,000 jobs: seconds to a healthy /healthz, and a list page."""
        jobs, samples = self.sizes["large_jobs"], self.sizes["read_samples"]
        _, url = self.db("cronwell-large")
        populate.cronwell(url, jobs, 0, self.recorder.url)
        server = Server("wsgi:app", {"CRONWELL_DATABASE_URL": url}, "/healthz", self.workdir)
        try:
            seconds = server.wait_healthy()
            rng = random.Random(5)
            self._latencies(server.client, ["/api/jobs"] * 5)  # warm up
            listing = self._latencies(
                server.client,
                [
                    f"/api/jobs?page={rng.randint(1, jobs // 50)}&page_size=50"
                    for _ in range(samples)
                ],
            )
        finally:
            server.stop()
        self.figures += [
            Figure(
                "large",
                f"seconds to healthy ({jobs} jobs)",
                "s",
                seconds,
                bar="< 2 s",
                met=seconds < 2,
            ),
            Figure.under("large", f"list page p50 ({jobs} jobs)", pct(listing, 50), 10),
        ]

    def _run_now_latencies(self, call, key: str, samples: int) -> list[float]:
        """ms from ``call()`` starting to the job's GET arriving at the recorder, each."""
        out = []
        for _ in range(samples):
            before = len(self.recorder.snapshot().get(key, []))
            started = time.time()
            call()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                arrivals = self.recorder.snapshot().get(key, [])
                if len(arrivals) > before:
                    out.append((arrivals[-1] - started) * 1000)
                    break
                time.sleep(0.0005)
            time.sleep(0.05)
        return out

    def run_now(self) -> None:
        """Run-now: from the request to the job's HTTP call arriving. Flask-APScheduler's
        run endpoint calls the job inline in the request; bare APScheduler is told with
        modify_job(next_run_time=now)."""
        samples = self.sizes["run_now"]
        self.recorder.reset()
        server, _ = self.cronwell("cronwell-run-now")
        try:
            self.create_http_job(server, "now", 0, "1h")
            cronwell = self._run_now_latencies(
                lambda: server.client.call("POST", "/api/jobs/now-0/run"), "now-0", samples
            )
        finally:
            server.stop()
        peer = self.flask_aps("flask-aps-run-now")
        try:
            peer.client.post(
                "/scheduler/jobs",
                {
                    "id": "now-0", "func": "bench.peers.tasks:hit", "trigger": "interval",
                    "hours": 1, "args": [f"{self.recorder.url}/hit/fnow-0"],
                },
            )  # fmt: skip
            inline = self._run_now_latencies(
                lambda: peer.client.call("POST", "/scheduler/jobs/now-0/run"), "fnow-0", samples
            )
        finally:
            peer.stop()
        self.recorder.reset()
        calls = self.bare_aps(
            {"kind": "run-now", "count": samples, "until": time.time() + samples * 0.2 + 30}
        )["calls"]
        arrivals = self.recorder.snapshot()
        bare = [(arrivals[path][0] - started) * 1000 for path, started in calls if path in arrivals]
        self.figures.append(
            Figure(
                "run-now",
                f"p50 from the request to the job's call ({samples} runs)",
                "ms",
                pct(cronwell, 50),
                {"apscheduler": pct(bare, 50), "flask-apscheduler": pct(inline, 50)},
                "<= APScheduler's modify_job",
                pct(cronwell, 50) <= pct(bare, 50),
            )
        )

    def _sustained_rate(self, name: str, **env: str) -> tuple[float, int]:
        """Executions recorded a second over the window, and the backlog at its end."""
        jobs, seconds = self.sizes["sustained_jobs"], self.sizes["sustained_seconds"]
        server, db_path = self.cronwell(name, CRONWELL_HISTORY_LIMIT="1000000", **env)
        try:
            self.create_http_jobs(server, "sus", jobs, "1s", overlap_policy="allow")
            time.sleep(2)
            start = dt.datetime.now(dt.UTC)
            time.sleep(seconds)
            end = dt.datetime.now(dt.UTC)
            with sqlite3.connect(db_path) as db:
                recorded = db.execute(
                    "SELECT count(*) FROM executions WHERE finished_at >= ? AND finished_at < ?",
                    (
                        start.replace(tzinfo=None).isoformat(" "),
                        end.replace(tzinfo=None).isoformat(" "),
                    ),
                ).fetchone()[0]
                # Due and not started (rows written ahead of their time are not a backlog).
                backlog = db.execute(
                    "SELECT count(*) FROM executions WHERE status = 'queued' AND scheduled_at <= ?",
                    (end.replace(tzinfo=None).isoformat(" "),),
                ).fetchone()[0]
        finally:
            server.stop()
        return recorded / (end - start).total_seconds(), backlog

    def sustained(self) -> None:
        """More jobs a second than one worker can run: what one worker (20 slots) and two
        (10 each) record a second."""
        jobs = self.sizes["sustained_jobs"]
        one, one_backlog = self._sustained_rate(
            "cronwell-sustained-1", WEB_CONCURRENCY="1", CRONWELL_MAX_CONCURRENT=SLOTS
        )
        two, two_backlog = self._sustained_rate("cronwell-sustained-2")
        self.figures.append(
            Figure(
                "sustained",
                f"executions recorded per second, 2 workers ({jobs} jobs at 1 s; backlog "
                f"{two_backlog}; 1 worker: backlog {one_backlog})",
                "/s",
                two,
                {"cronwell-1-worker": one},
                ">= 1.5 x 1 worker",
                two >= 1.5 * one,
            )
        )

    # -- report ------------------------------------------------------------------------------

    def report(self) -> str:
        lines = [
            "| workload | figure | Cronwell | peer | ratio | bar | met |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            peer = ", ".join(f"{k} {v:.1f}" for k, v in f.peers.items()) or "-"
            ratio = (
                ", ".join(
                    f"{(f.cronwell / v if v else float('inf')):.2f}x" for v in f.peers.values()
                )
                or "-"
            )
            met = "-" if f.met is None else ("yes" if f.met else "NO")
            cells = [
                f.workload,
                f.figure,
                f"{f.cronwell:.1f} {f.unit}",
                peer,
                ratio,
                f.bar or "-",
                met,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    workloads = [
        "burst", "steady", "notifier", "create", "read", "start", "large", "run_now", "sustained",
    ]  # fmt: skip
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes: proves the harness works")
    parser.add_argument(
        "--only", nargs="*", choices=workloads, help="workloads to run (default: all)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    chosen = args.only or workloads
    with tempfile.TemporaryDirectory(prefix="cronwell-bench-") as tmp:
        bench = Bench(TINY if args.tiny else FULL, Path(tmp))
        for name in chosen:
            print(f"running {name}...", flush=True)
            getattr(bench, name)()
        bench.recorder.close()
    table = bench.report()
    print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine(),
                "tiny": args.tiny,
                "figures": [f.__dict__ for f in bench.figures],
            },
            indent=2,
        )
    )
    print(f"written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
