"""`make bench` works: the API, UI, start and metrics workloads run in tiny mode."""

from tests.support.helpers import run_bench_tiny


def test_the_api_workloads_run_in_tiny_mode(tmp_path):
    report, _ = run_bench_tiny(tmp_path, "create", "read", "start", "large", "run_now")
    figures = report["figures"]
    assert {f["workload"] for f in figures} == {
        "api-create", "api-read", "metrics", "ui", "start", "large", "run-now",
    }  # fmt: skip
    by_name = {(f["workload"], f["figure"].split(" (")[0]): f for f in figures}
    assert by_name[("api-create", "creates per second")]["peers"]["flask-apscheduler"] > 0
    assert by_name[("start", "RSS after start")]["cronwell"] > 0
    assert by_name[("metrics", "/metrics scrape p50")]["cronwell"] > 0
    for page in ("jobs page p50", "job page p50", "dashboard p50"):
        assert by_name[("ui", page)]["cronwell"] > 0


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
