"""schemathesis against the served OpenAPI spec, as its command line runs it: every check
it has, every phase (the spec's examples, coverage of each constraint's edges, fuzzing each
operation, and stateful sequences that create, read, change, run and delete what they made).

Bounded and repeatable: deterministic generation and a few examples per operation. The
service under test refuses shell jobs and lets http jobs call only 127.0.0.1, so nothing
the fuzzer creates can reach beyond this machine.

One check is left out: ``positive_data_acceptance`` expects every request that the
schema admits to be accepted, but a schedule (``"0"`` is a string, not a cron), a timezone
name and a job type are validated by meaning, which JSON Schema cannot say; those are
refused with a 422 naming the field, as the contract wants.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

MAX_EXAMPLES = 15
TOKEN = "fuzz-token-5e1f"


@pytest.mark.timeout(300)  # a whole schemathesis run, on a machine the other tests keep busy
def test_schemathesis_finds_nothing_with_every_check(start_service, tmp_path):
    service = start_service(
        {
            "CRONWELL_SHELL_JOBS_ENABLED": "false",
            "CRONWELL_HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
            # A closed service (the keys and users the fuzzer makes change nothing), whose
            # limit on wrong credentials the fuzzer's own tries of them do not reach.
            "CRONWELL_API_TOKEN": TOKEN,
            "CRONWELL_AUTH_FAILURES_PER_MINUTE": "100000",
        }
    )
    schemathesis = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(schemathesis), "run", service.base_url + "/api/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
            "--workers", "1", "--no-color", "-H", f"Authorization: Bearer {TOKEN}",
            # It sends messages out, and a receiver's refusal is its documented 502.
            "--exclude-path", "/api/notifications/test",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # its cache stays out of the checkout
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert tested and int(tested.group(1)) >= 25, "every operation of both APIs is fuzzed"
    assert re.search(r"✅ Stateful", done.stdout), done.stdout[-3000:]
