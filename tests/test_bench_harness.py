"""`make bench` works: the harness runs every workload in tiny mode and writes its JSON.

Figures here are not judged (speed is measured by `make bench`, not asserted in tests);
this only proves that every workload runs against Cronwell and the peers.
"""

import json
import subprocess
import sys

from tests.support import ROOT

EXPECTED = {
    "burst", "steady", "notifier", "api-create", "api-read", "metrics", "start", "large", "run-now",
    "sustained",
}  # fmt: skip


def test_the_benchmarks_run_in_tiny_mode(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["tiny"] is True and report["machine"]["cpus"]
    figures = report["figures"]
    assert {f["workload"] for f in figures} == EXPECTED
    by_name = {(f["workload"], f["figure"].split(" (")[0]): f for f in figures}
    burst = next(f for f in figures if f["workload"] == "burst" and f["figure"].startswith("runs"))
    assert burst["cronwell"] == 20, "every one of the tiny burst's fires ran"
    assert by_name[("burst", "p99 lateness")]["peers"]["apscheduler"] > 0
    assert by_name[("api-create", "creates per second")]["peers"]["flask-apscheduler"] > 0
    assert by_name[("start", "RSS after start")]["cronwell"] > 0
    assert "| burst |" in done.stdout, "the table is printed"
