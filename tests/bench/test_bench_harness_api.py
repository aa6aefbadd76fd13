"""`make bench` works: the API, UI, start and metrics workloads run in tiny mode."""

import pytest

from tests.support.helpers import run_bench_tiny


@pytest.mark.timeout(300)  # five workloads, each with its servers, on a busy machine
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
