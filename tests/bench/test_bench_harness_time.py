"""`make bench` works: the access, calendars and pings workloads run in tiny mode (a file
of their own, so that they run beside the others; one run of the harness for all)."""

import pytest

from tests.support.helpers import run_bench_tiny


@pytest.mark.timeout(300)  # a whole harness run, on a machine the other tests keep busy
def test_the_access_calendars_and_pings_workloads_run_in_tiny_mode(tmp_path):
    # Access against this very commit (a clone may not reach back to the one it names).
    report, _ = run_bench_tiny(
        tmp_path, "access", "calendars", "pings", env={"BENCH_BEFORE_ACCESS": "HEAD"}
    )
    figures: dict[str, list[dict]] = {}
    for figure in report["figures"]:
        figures.setdefault(figure["workload"], []).append(figure)
    assert set(figures) == {
        "access-check", "access-audit-create", "access-audit-update", "calendars", "pings"
    }  # fmt: skip
    for name in ("access-audit-create", "access-audit-update"):
        (figure,) = figures[name]
        assert figure["cronwell"] > 0 and figure["peers"]["before access control"] > 0
    assert len(figures["calendars"]) == 2
    assert all(f["cronwell"] > 0 and all(v > 0 for v in f["peers"].values())
               for f in figures["calendars"])  # fmt: skip
    ping, claim = figures["pings"]
    assert ping["cronwell"] > 0 and set(ping["peers"]) == {"among 10 monitors", "GET /healthz"}
    assert claim["cronwell"] > 0 and claim["peers"]["with none waiting"] > 0
