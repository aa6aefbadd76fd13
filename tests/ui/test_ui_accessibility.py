"""axe-core finds no serious or critical violation on any page of the UI, at 1280 px and
390 px wide, in light and dark mode; dark mode follows the system; a phone-wide page
does not scroll sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support import run_and_wait
from tests.support.browser import serious_violations

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def pages(service, make_job, target) -> list[str]:
    """A path of every kind of page, with something on it."""
    job = make_job(name="Accessible job", tags=["team:a11y"])
    failing = make_job(name="Failing job", configuration={"url": target.url("/status/500")})
    run = run_and_wait(service, failing["id"])
    run_and_wait(service, job["id"])
    service.post(
        "/api/calendars",
        json={
            "id": f"cal-{job['id']}",
            "name": "Weekends and Bavarian holidays",
            "timezone": "Europe/Berlin",
            "dates": ["2026-12-24"],
            "holidays": {"country": "DE", "subdivision": "BY"},
            "windows": [
                {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
                {"start": "2026-12-20T00:00:00+01:00", "end": "2027-01-04T00:00:00+01:00"},
            ],
        },
    )
    return [
        "/ui/",
        "/ui/jobs",
        "/ui/jobs?include_deleted=true",
        f"/ui/jobs/{job['id']}",
        f"/ui/jobs/{failing['id']}/executions/{run['id']}",
        "/ui/jobs/new",
        f"/ui/jobs/{job['id']}/edit",
        f"/ui/jobs/{job['id']}/delete",
        "/ui/workers",
        "/ui/audit",
        "/ui/calendars",
        "/ui/no-such-page",
    ]


# Dark mode's colours are the same at every width: desktop checks them.
@pytest.mark.parametrize(
    ("width", "scheme"), [("desktop", "light"), ("phone", "light"), ("desktop", "dark")]
)
def test_no_serious_violation_on_any_page(page, pages, width, scheme):
    page.set_viewport_size(WIDTHS[width])
    page.emulate_media(color_scheme=scheme)
    found = {}
    for path in pages:
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        violations = serious_violations(page)
        if violations:
            found[path] = violations
        if width == "phone":
            sideways = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert sideways <= 0, f"{path} scrolls sideways by {sideways} px"
    assert found == {}


def test_the_login_page_has_no_serious_violation(browser, start_service):
    guarded = start_service({"CRONWELL_API_TOKEN": "a11y-token"})
    for size in WIDTHS.values():
        context = browser.new_context(base_url=guarded.base_url, viewport=size)
        try:
            tab = context.new_page()
            tab.goto("/ui/jobs")
            expect(tab.get_by_label("Password")).to_be_visible()
            assert serious_violations(tab) == []
        finally:
            context.close()


def test_dark_mode_follows_the_system(page, pages):
    def background() -> list[int]:
        colour = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        return [int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3]]

    page.emulate_media(color_scheme="light")
    page.goto("/ui/jobs")
    assert sum(background()) > 600  # a light page
    page.emulate_media(color_scheme="dark")
    page.goto("/ui/jobs")
    assert sum(background()) < 150  # a dark page
