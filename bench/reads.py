"""The read and size workloads: creates, reads at 10,000 jobs and 1,000,000 executions,
start time and memory, 100,000 jobs."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from pathlib import Path

from bench import populate
from bench.harness import CREATE_ROUND, PEER_GUNICORN_CONFIG, Bench, Figure, pct
from bench.servers import Client, Server


class Reads(Bench):
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
            idle_bytes = self._idle_refresh_bytes(server.client, f"/ui/jobs?page={pages // 2}")
        finally:
            server.stop()
        # The same scrapes rendered at each one (the way before snapshots), to compare.
        rendering, _ = self.cronwell(
            "cronwell-read", CRONWELL_HISTORY_LIMIT="1000000", CRONWELL_METRICS_REFRESH_SECONDS="0"
        )
        try:
            rendered = self._latencies(rendering.client, ["/metrics"] * 5)
        finally:
            rendering.stop()
        self.figures += [
            Figure.under("api-read", f"list page p50 ({jobs} jobs)", pct(listing, 50), 10),
            Figure.under("api-read", "one job p50", pct(one, 50), 3),
            Figure.under(
                "api-read", f"executions page p50 ({executions} rows)", pct(history, 50), 15
            ),
            Figure(
                "metrics",
                f"/metrics scrape p50 ({jobs} jobs, {executions} executions)",
                "ms",
                pct(scrapes, 50),
                {"rendered per scrape": pct(rendered, 50)},
                "< 100 ms",
                pct(scrapes, 50) < 100,
            ),
            Figure.under("ui", f"jobs page p50 ({jobs} jobs)", pct(ui_list, 50), 50),
            Figure.under("ui", f"job page p50 ({executions} executions)", pct(ui_job, 50), 50),
            Figure.under("ui", "dashboard p50", pct(ui_dashboard, 50), 50),
            Figure(
                "ui",
                f"idle jobs page: bytes a refresh ({jobs} jobs; a page's part, 304)",
                "B",
                idle_bytes,
                bar="< 1024 B",
                met=idle_bytes < 1024,
            ),
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

    @staticmethod
    def _idle_refresh_bytes(client: Client, path: str) -> int:
        """What an idle page's live refresh moves: its status line, headers and body,
        asked again with the ETag of the first answer (as the browser does)."""
        live = {"HX-Request": "true"}
        page = client.pool.request("GET", path)  # the page, as a browser opens it first
        cookie = page.headers.get("Set-Cookie", "").split(";")[0]  # its session
        live["Cookie"] = cookie
        first = client.pool.request("GET", path, headers=live)
        again = client.pool.request(
            "GET", path, headers={**live, "If-None-Match": first.headers["ETag"]}
        )
        head = sum(len(k) + len(v) + 4 for k, v in again.headers.items()) + 20
        return head + len(again.data) if again.status in (200, 304) else -1

    def start(self) -> None:
        jobs = self.sizes["start_jobs"]
        path, url = self.db("cronwell-start")
        populate.cronwell(url, jobs, 0, self.recorder.url)
        # One gunicorn worker, as Flask-APScheduler is served: the same shape to compare.
        server = Server("wsgi:app", {"CRONWELL_DATABASE_URL": url}, "/healthz", self.workdir)
        try:
            cw_seconds = server.wait_healthy()
            time.sleep(1)
            cw_rss = server.rss_mib()
            mapped = server.mapped_mib(path.resolve())
        finally:
            server.stop()
        _, peer_url = self.db("flask-aps-start")
        populate.apscheduler_store(peer_url, jobs, self.recorder.url)
        peer = Server(
            "bench.peers.flask_aps_app:app",
            {"BENCH_DB_URL": peer_url},
            "/healthz",
            self.workdir,
            config=PEER_GUNICORN_CONFIG,
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
            Figure("start", "of it, the database file mapped (page cache)", "MiB", mapped),
        ]

    def large(self) -> None:
        """A service with 100,000 jobs: seconds to a healthy /healthz, and a list page,
        while the first leader checks that every store row loads (once per version, in
        the background) and after."""
        jobs, samples = self.sizes["large_jobs"], self.sizes["read_samples"]
        path, url = self.db("cronwell-large")
        populate.cronwell(url, jobs, 0, self.recorder.url)
        server = Server("wsgi:app", {"CRONWELL_DATABASE_URL": url}, "/healthz", self.workdir)
        rng = random.Random(5)

        def pages() -> list[float]:
            last = jobs // 50
            paths = [f"/api/jobs?page={rng.randint(1, last)}&page_size=50" for _ in range(samples)]
            return self._latencies(server.client, paths)

        try:
            seconds = server.wait_healthy()
            self._latencies(server.client, ["/api/jobs"] * 5)  # warm up
            checking = pages()
            _wait_store_checked(path)
            listing = pages()
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
            Figure("large", "list page p50, first start's store check", "ms", pct(checking, 50)),
            Figure.under("large", f"list page p50 ({jobs} jobs)", pct(listing, 50), 10),
        ]


def _wait_store_checked(path: Path, timeout: float = 120) -> None:
    """Until the leader has checked every store row of the database at ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(path)) as db:
            row = db.execute("SELECT store_checked_by FROM scheduler_state").fetchone()
        if row and row[0]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the store of {path} was not checked within {timeout} s")
