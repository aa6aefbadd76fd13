"""Times read relative ("in 3 min", "2 h ago") with the absolute time on hover, in the
timezone the reader picks (the job's, this browser's, UTC), kept across pages; lists of
fire times stay absolute."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_relative_times_and_the_timezone_switch(page, service, make_job):
    job = make_job(name="Timed", schedule="0 3 * * *", timezone="Asia/Tokyo")
    page.goto("/ui/jobs?q=Timed")
    cell = page.locator("table.jobs tbody tr").first.locator("time").first  # next run
    expect(cell).to_have_text(re.compile(r"^in \d+ (min|h)"))
    assert "GMT+9" in cell.get_attribute("title")  # the job's timezone by default
    page.get_by_label("Show times in").select_option("utc")
    expect(cell).to_have_attribute("title", re.compile(r"UTC"))
    page.goto(f"/ui/jobs/{job['id']}")  # the choice is kept
    expect(page.get_by_label("Show times in")).to_have_value("utc")
    fires = page.get_by_role("region", name="Next fires").locator("time").first
    expect(fires).to_have_text(re.compile(r"\d{4}-\d\d-\d\d 03:00:00 JST"))  # absolute
