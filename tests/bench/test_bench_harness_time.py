"""`make bench` works: the access and calendars workloads run in tiny mode (a file of
their own, so that they run beside the others)."""

from tests.support.helpers import run_bench_tiny


def test_the_access_workload_runs_in_tiny_mode(tmp_path):
    # Against this very commit (a clone may not reach back to the one the bench names).
    report, _ = run_bench_tiny(tmp_path, "access", env={"BENCH_BEFORE_ACCESS": "HEAD"})
    figures = {f["workload"]: f for f in report["figures"]}
    assert set(figures) == {"access-check", "access-audit-create", "access-audit-update"}
    for name in ("access-audit-create", "access-audit-update"):
        assert figures[name]["cronwell"] > 0
        assert figures[name]["peers"]["before access control"] > 0


def test_the_calendars_workload_runs_in_tiny_mode(tmp_path):
    report, _ = run_bench_tiny(tmp_path, "calendars")
    figures = report["figures"]
    assert [f["workload"] for f in figures] == ["calendars", "calendars"]
    assert all(f["cronwell"] > 0 and all(v > 0 for v in f["peers"].values()) for f in figures)
