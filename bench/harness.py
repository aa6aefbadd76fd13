"""What every workload stands on: the sizes, a figure, the servers and databases of one
run, and the table."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.recorder import Recorder
from bench.servers import ROOT, Client, Server

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
    "access_samples": 2000,
    "access_writes": 400,
    "calendar_jobs": 1000,
    "calendar_rounds": 15,
    "ping_monitors": 10_000,
    "ping_samples": 500,
    "ping_claims": 200,
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
    "access_samples": 10,
    "access_writes": 5,
    "calendar_jobs": 10,
    "calendar_rounds": 2,
    "ping_monitors": 10,
    "ping_samples": 30,
    "ping_claims": 5,
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

    def cronwell(self, name: str, root: Path = ROOT, **env: str) -> tuple[Server, Path]:
        """Cronwell (``root``: another checkout of it, such as an earlier release)."""
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
            root=root,
        )
        server.wait_healthy()
        return server, path

    def checkout(self, commit: str) -> Path:
        """This repository's files at ``commit``, in the run's directory."""
        where = self.workdir / f"checkout-{commit}"
        if not where.exists():
            where.mkdir()
            archive = subprocess.run(
                ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
        return where

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

    @staticmethod
    def _latencies(client: Client, paths: list[str]) -> list[float]:
        out = []
        for path in paths:
            started = time.perf_counter()
            client.get(path)
            out.append((time.perf_counter() - started) * 1000)
        return out

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
