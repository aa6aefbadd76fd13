"""`make bench` works: the harness runs the fire workloads in tiny mode and writes its JSON
(tests/bench/test_bench_harness_api.py runs the others, beside this one).

Figures here are not judged (speed is measured by `make bench`, not asserted in tests);
this only proves that every workload runs against Cronwell and the peers.
"""

from tests.support.helpers import run_bench_tiny


def test_the_fire_workloads_run_in_tiny_mode(tmp_path):
    report, stdout = run_bench_tiny(tmp_path, "burst", "steady", "notifier", "sustained")
    assert report["tiny"] is True and report["machine"]["cpus"]
    figures = report["figures"]
    assert {f["workload"] for f in figures} == {"burst", "steady", "notifier", "sustained"}
    by_name = {(f["workload"], f["figure"].split(" (")[0]): f for f in figures}
    burst = next(f for f in figures if f["workload"] == "burst" and f["figure"].startswith("runs"))
    assert burst["cronwell"] == 20, "every one of the tiny burst's fires ran"
    assert by_name[("burst", "p99 lateness")]["peers"]["apscheduler"] > 0
    notifier = [f for f in figures if f["workload"] == "notifier"]
    assert len(notifier) == 2 and all(f["peers"]["without notifications"] > 0 for f in notifier)
    assert "| burst |" in stdout, "the table is printed"
