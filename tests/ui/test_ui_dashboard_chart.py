"""The dashboard charts every job's runs of the last 24 hours, an hour a bar by status,
with a text alternative."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from tests.support import run_and_wait


def test_the_day_chart_counts_this_hour_s_runs_by_status(browser, start_service, target):
    service = start_service()
    job = service.post(
        "/api/jobs",
        json={"name": "Day chart", "type": "http", "schedule": "0 3 * * *",
              "configuration": {"url": target.url("/ok")}},
    ).json()  # fmt: skip
    runs = [
        run_and_wait(service, job["id"]),
        run_and_wait(service, job["id"]),
        run_and_wait(
            service, job["id"], json={"configuration": {"url": target.url("/status/500")}}
        ),
    ]
    # The hours the runs fell in (two, when they straddled an hour's turn).
    hours = sorted({dt.datetime.fromisoformat(r["scheduled_at"]).strftime("%H") for r in runs})
    context = browser.new_context(base_url=service.base_url)
    try:
        page = context.new_page()
        page.goto("/ui/")
        expect(page.locator(".chart g.hour")).to_have_count(24)

        def counted(selector: str, attribute: str) -> int:
            found = 0
            for hour in hours:
                bar = page.locator(f".chart g.hour[data-hour='{hour}']").last
                marks = bar.locator(selector) if selector else bar
                found += sum(int(m.get_attribute(attribute) or 0) for m in marks.all())
            return found

        assert counted("", "data-total") == 3
        assert counted("rect[data-status=success]", "data-count") == 2
        assert counted("rect[data-status=failed]", "data-count") == 1
        caption = page.get_by_role("region", name="Runs in the last 24 hours")
        expect(caption.locator("figcaption")).to_contain_text("2 success, 1 failed")
    finally:
        context.close()
