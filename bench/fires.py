"""The fire workloads: a burst, a steady load, notifications on, run-now, sustained
recording."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import time

from app.statuses import RAN_STATUSES
from bench.harness import SLOTS, Bench, Figure, pct
from bench.servers import ROOT
from bench.sink import Sink


class Fires(Bench):
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
            # Runs may overlap: a run asked for while the last one's outcome is still
            # being written (a busy machine) starts, instead of a 409.
            self.create_http_job(server, "now", 0, "1h", overlap_policy="allow")
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
                window = (
                    start.replace(tzinfo=None).isoformat(" "),
                    end.replace(tzinfo=None).isoformat(" "),
                )
                by_status = dict(
                    db.execute(
                        "SELECT status, count(*) FROM executions "
                        "WHERE finished_at >= ? AND finished_at < ? GROUP BY status",
                        window,
                    ).fetchall()
                )
                print(f"  sustained {name}: finished in the window by status {by_status}")
                # Runs that ran (a missed or skipped row is not a run).
                recorded = sum(n for s, n in by_status.items() if s in RAN_STATUSES)
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
