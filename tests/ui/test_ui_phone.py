"""At a phone's width (390 px) no page scrolls sideways, the tables of jobs and runs
become cards, and every button, field and link in them is at least 24 x 24 px."""

from __future__ import annotations

from tests.support import run_and_wait

PHONE = {"width": 390, "height": 844}
SMALL = """() => [...document.querySelectorAll(
    'main button, main select, main input:not([type=hidden]), main td a, header a, header button,'
    + ' header select, .pages a')]
  .filter(e => e.offsetParent !== null)
  .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
  .filter(([, r]) => r.width < 24 || r.height < 24)
  .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def test_phone_width_cards_and_tap_targets(page, service, make_job):
    job = make_job(name="On a phone", tags=["mobile"])
    run_and_wait(service, job["id"])
    service.post(
        "/api/calendars",
        json={
            "id": "phone-cal",
            "name": "Weekends",
            "timezone": "Europe/Berlin",
            "dates": ["2026-12-24", "2026-12-31"],
            "holidays": {"country": "DE"},
            "windows": [{"start": "2026-12-20T00:00:00+01:00", "end": "2027-01-04T00:00:00+01:00"}],
        },
    )
    page.set_viewport_size(PHONE)
    for path in (
        "/ui/",
        "/ui/jobs",
        f"/ui/jobs/{job['id']}",
        "/ui/jobs/new",
        "/ui/workers",
        "/ui/audit",
        "/ui/calendars",
    ):
        page.goto(path)
        sideways = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert sideways <= 0, (path, sideways)
        assert page.evaluate(SMALL) == [], path
    page.goto("/ui/jobs?q=On+a+phone")
    row = page.locator("table.jobs tbody tr").first
    assert row.evaluate("r => getComputedStyle(r).display") == "block"  # a card
    assert page.locator("table.jobs thead").evaluate("h => h.getBoundingClientRect().width") <= 1
