"""What the tests share: the service process, the HTTP target, PostgreSQL, waiting."""

from tests.support.helpers import (
    create_http_job,
    process_alive,
    run_and_wait,
    scrape,
    seconds_between,
    until_file,
)
from tests.support.service import ROOT, Service
from tests.support.target import Target
from tests.support.waiting import free_port, wait_for

__all__ = [
    "ROOT",
    "Service",
    "Target",
    "create_http_job",
    "free_port",
    "process_alive",
    "run_and_wait",
    "scrape",
    "seconds_between",
    "until_file",
    "wait_for",
]
