"""`make bench` works: the harness runs the burst and steady workloads in tiny mode and
writes its JSON (test_bench_harness_load.py, _api.py and _time.py run the others, beside
this one).

Figures here are not judged (speed is measured by `make bench`, not asserted in tests);
this only proves that every workload runs against Cronwell and the peers.
"""

import pytest

from tests.support.helpers import run_bench_tiny


@pytest.mark.timeout(300)  # a whole harness run, on a machine the other tests keep busy
def test_the_burst_and_steady_workloads_run_in_tiny_mode(tmp_path):
    report, stdout = run_bench_tiny(tmp_path, "burst", "steady")
    assert report["tiny"] is True and report["machine"]["cpus"]
    figures = report["figures"]
    assert {f["workload"] for f in figures} == {"burst", "steady"}
    by_name = {(f["workload"], f["figure"].split(" (")[0]): f for f in figures}
    burst = next(f for f in figures if f["workload"] == "burst" and f["figure"].startswith("runs"))
    assert burst["cronwell"] == 20, "every one of the tiny burst's fires ran"
    assert by_name[("burst", "p99 lateness")]["peers"]["apscheduler"] > 0
    assert "| burst |" in stdout, "the table is printed"
