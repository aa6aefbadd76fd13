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
import json
import sys
import tempfile
from pathlib import Path

from bench.access import Access
from bench.fires import Fires
from bench.harness import FULL, TINY, machine
from bench.reads import Reads
from bench.servers import ROOT
from bench.time_control import TimeControl


class Run(Fires, Reads, Access, TimeControl):
    """Every workload, on one recorder and one set of figures."""


def main(argv: list[str] | None = None) -> int:
    workloads = [
        "burst", "steady", "notifier", "create", "read", "start", "large", "run_now", "sustained",
        "access", "calendars", "pings",
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
        bench = Run(TINY if args.tiny else FULL, Path(tmp))
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
