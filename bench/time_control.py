"""Time control's costs: what a calendar with public holidays adds to the scheduler's
pass, how long a job's next_run_at takes when its calendar excludes the next 30 days, and
what a heartbeat monitor's ping costs among 10,000 monitors.

The pass is timed in-process: the intake's transaction (app.scheduler.intake.record_fires,
the work a pass does for its fires) for 1000 due jobs, with and without a calendar,
interleaved and rolled back each time. The next run is timed from outside, as a GET of
the job, beside the same GET of a job without calendars.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from bench import populate
from bench.harness import Bench, Figure, pct
from bench.servers import Client

CALENDAR = {
    "name": "Bavarian holidays and weekends",
    "timezone": "Europe/Berlin",
    "holidays": {"country": "DE", "subdivision": "BY"},
    "windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}],
}


class TimeControl(Bench):
    def calendars(self) -> None:
        self._pass_cost()
        self._next_run()

    def _pass_cost(self) -> None:
        from app import create_app
        from app.scheduler.intake import record_fires
        from app.scheduler.stages import Fire

        jobs, rounds = self.sizes["calendar_jobs"], self.sizes["calendar_rounds"]
        _, url = self.db("calendar-pass")
        app = create_app({"DATABASE_URL": url, "SCHEDULER_AUTOSTART": False})
        rt = app.extensions["cronwell"]
        client = app.test_client()
        client.post("/api/calendars", json={"id": "holidays", **CALENDAR})
        for kind, calendars in (("plain", []), ("calendar", ["holidays"])):
            for i in range(jobs):
                client.post("/api/jobs", json={
                    "id": f"{kind}-{i}", "name": f"{kind} {i}", "type": "http",
                    "schedule": "1h", "calendars": calendars,
                    "configuration": {"url": "http://127.0.0.1:9/"}})  # fmt: skip
        with rt.db.write_connection() as connection:  # the pass reads only synced jobs
            connection.exec_driver_sql("UPDATE jobs SET sync_pending = 0")
        spent: dict[str, list[float]] = {"plain": [], "calendar": []}
        # A weekday at noon: every calendar check goes through the holidays and windows.
        moment = dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.UTC)
        for round_ in range(rounds):
            for kind in spent:
                at = moment + dt.timedelta(minutes=round_)
                batch = [Fire(f"{kind}-{i}", at) for i in range(jobs)]
                with rt.db.engine.connect() as connection:
                    transaction = connection.begin()
                    started = time.perf_counter()
                    written = record_fires(connection, batch, rt.settings)
                    spent[kind].append((time.perf_counter() - started) * 1000)
                    transaction.rollback()
                assert len(written) == jobs, (kind, len(written))
        rt.shutdown(0)
        plain, with_calendar = pct(spent["plain"], 50), pct(spent["calendar"], 50)
        self.figures.append(
            Figure(
                "calendars",
                f"a pass's intake of {jobs} due jobs p50, each with a calendar of holidays "
                "and weekends",
                "ms",
                with_calendar,
                {"without calendars": plain},
                "<= 1.1 x without",
                with_calendar <= 1.1 * plain,
            )
        )

    def _next_run(self) -> None:
        samples = self.sizes["read_samples"]
        server, _ = self.cronwell("calendar-next")
        try:
            client: Client = server.client
            now = dt.datetime.now(dt.UTC)
            client.post("/api/calendars", {
                "id": "month-off", "name": "Thirty days off", "timezone": "UTC",
                "windows": [{"start": now.isoformat(),
                             "end": (now + dt.timedelta(days=30)).isoformat()}]})  # fmt: skip
            for job_id, listed in (("off", ["month-off"]), ("on", [])):
                client.post(
                    "/api/jobs",
                    {
                        "id": job_id,
                        "name": job_id,
                        "type": "http",
                        "schedule": "*/5 * * * *",
                        "calendars": listed,
                        "configuration": {"url": "http://127.0.0.1:9/"},
                    },
                )
            found = json.loads(client.get("/api/jobs/off"))["next_run_at"]
            assert dt.datetime.fromisoformat(found) >= now + dt.timedelta(days=30), found
            self._latencies(client, ["/api/jobs/off", "/api/jobs/on"] * 5)
            off, on = [], []
            for _ in range(samples):
                off += self._latencies(client, ["/api/jobs/off"])
                on += self._latencies(client, ["/api/jobs/on"])
        finally:
            server.stop()
        self.figures.append(
            Figure(
                "calendars",
                "GET of a job whose calendar excludes the next 30 days (8640 fires of "
                "*/5 * * * *) p50",
                "ms",
                pct(off, 50),
                {"the same job without calendars": pct(on, 50)},
                "< 50 ms",
                pct(off, 50) < 50,
            )
        )

    def pings(self) -> None:
        """A ping's latency among many monitors, beside the same among a few (its cost
        should not grow with their number) and the service's cheapest answer."""
        many, samples = self.sizes["ping_monitors"], self.sizes["ping_samples"]
        latencies: dict[int, list[float]] = {}
        floor: list[float] = []
        for count in sorted({10, many}):  # one server when the sizes are tiny
            _, url = self.db(f"pings-{count}")
            keys = populate.monitors(url, count, self.recorder.url)
            server, _ = self.cronwell(f"pings-{count}")
            try:
                client: Client = server.client
                # Each monitor takes CRONWELL_PINGS_PER_MINUTE (60): spread over the keys.
                paths = [f"/ping/{keys[i % count]}" for i in range(samples)]
                self._latencies(client, paths[:20])  # warm up
                latencies[count] = self._latencies(client, paths)
                if count == many:
                    floor = self._latencies(client, ["/healthz"] * samples)
            finally:
                server.stop()
        at_many = pct(latencies[many], 50)
        self.figures.append(
            Figure(
                "pings",
                f"GET /ping/<key> p50 among {many} heartbeat monitors (each records a run)",
                "ms",
                at_many,
                {f"among {10} monitors": pct(latencies[10], 50), "GET /healthz": pct(floor, 50)},
                "< 5 ms",
                at_many < 5,
            )
        )
        self._claim_past_waiting_fires(many)

    def _claim_past_waiting_fires(self, count: int) -> None:
        """A worker's claim with ``count`` monitor fires waiting for their pings, beside
        the same claim with none: the waiting fires are no worker's, and a claim should
        not read them."""
        from sqlalchemy import delete, insert, select

        from app import create_app
        from app.db import utcnow
        from app.models import PING_HOLDER, Execution, Job
        from app.scheduler.claims import claim_due

        _, url = self.db(f"pings-{count}")
        app = create_app({"DATABASE_URL": url, "SCHEDULER_AUTOSTART": False})
        rt = app.extensions["cronwell"]

        def claims() -> list[float]:
            spent = []
            for _ in range(self.sizes["ping_claims"]):
                with rt.db.write_connection() as connection:
                    started = time.perf_counter()
                    claim_due(connection, "bench", 30, 10, utcnow(), {}, rt.settings)
                    spent.append((time.perf_counter() - started) * 1000)
            return spent

        none_waiting = claims()
        now = utcnow()
        with rt.db.write_connection() as connection:
            ids = connection.scalars(select(Job.id)).all()
            connection.execute(insert(Execution), [{
                "job_id": job_id, "status": "queued", "trigger": "schedule", "attempt": 1,
                "scheduled_at": now - dt.timedelta(seconds=30), "worker": PING_HOLDER,
                "lease_until": now + dt.timedelta(hours=1), "created_at": now,
                "output_truncated": False, "cancel_requested": False, "slow": False,
            } for job_id in ids])  # fmt: skip
        waiting = claims()
        with rt.db.write_connection() as connection:
            connection.execute(delete(Execution).where(Execution.worker == PING_HOLDER))
        rt.shutdown(0)
        self.figures.append(
            Figure(
                "pings",
                f"a worker's claim p50 with {len(ids)} monitor fires waiting for pings",
                "ms",
                pct(waiting, 50),
                {"with none waiting": pct(none_waiting, 50)},
                "<= 1.2 x with none",
                pct(waiting, 50) <= 1.2 * pct(none_waiting, 50),
            )
        )
