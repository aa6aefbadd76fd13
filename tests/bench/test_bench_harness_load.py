"""`make bench` works: the notifier and sustained workloads run in tiny mode (a file of
their own, so that they run beside the burst and steady ones)."""

import pytest

from tests.support.helpers import run_bench_tiny


@pytest.mark.timeout(300)  # a whole harness run, on a machine the other tests keep busy
def test_the_notifier_and_sustained_workloads_run_in_tiny_mode(tmp_path):
    report, _ = run_bench_tiny(tmp_path, "notifier", "sustained")
    figures = report["figures"]
    assert {f["workload"] for f in figures} == {"notifier", "sustained"}
    notifier = [f for f in figures if f["workload"] == "notifier"]
    assert len(notifier) == 2 and all(f["peers"]["without notifications"] > 0 for f in notifier)
    assert all(f["cronwell"] > 0 for f in figures if f["workload"] == "sustained")
