"""Live updates never get in the way: focus and a text selection survive the refreshes,
a run's output follows its newest line unless the reader scrolled up, and an idle page's
refresh is a 304 of under 1 KB."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support import wait_for

JOBS_REFRESH_SECONDS = 3  # _jobs_table.html: hx-trigger="every 3s"


def _live_requests(page, path: str) -> list:
    """The live part's requests to ``path`` (htmx's), as they finish."""
    seen: list = []
    page.on(
        "requestfinished",
        lambda request: (
            seen.append(request)
            if request.headers.get("hx-request") == "true" and path in request.url
            else None
        ),
    )
    return seen


def test_focus_and_a_selection_survive_eight_seconds_of_updates(page, service, make_job):
    job = make_job(name="Keep my focus")
    make_job(name="Another row")
    refreshes = _live_requests(page, "/ui/jobs")
    page.goto("/ui/jobs")
    link = page.get_by_role("link", name="Keep my focus")
    link.focus()
    expect(link).to_be_focused()
    # A selection of the other row's name (as a reader's drag would make).
    page.evaluate(
        """() => {
            const links = [...document.querySelectorAll('a')];
            const cell = links.find(a => a.textContent === 'Another row');
            const range = document.createRange();
            range.selectNodeContents(cell);
            window.getSelection().removeAllRanges();
            window.getSelection().addRange(range);
        }"""
    )
    service.post(f"/api/jobs/{job['id']}/run")  # the table changes meanwhile
    page.wait_for_timeout(8000)  # (the page's events come in while Playwright waits)
    assert len(refreshes) >= 2, "the table refreshed"
    expect(link).to_be_focused()
    assert page.evaluate("window.getSelection().toString()") == "Another row"
    page.keyboard.press("Tab")  # the next Tab goes on from the link, not from the top
    assert page.evaluate("document.activeElement.textContent") != "Skip to content"


def test_an_idle_page_refreshes_with_a_304_under_1_kb(page, service, make_job):
    make_job(name="Idle row")
    refreshes = _live_requests(page, "/ui/jobs")
    page.goto("/ui/jobs")
    expect(page.get_by_role("link", name="Idle row")).to_be_visible()
    page.wait_for_timeout((3 * JOBS_REFRESH_SECONDS + 1) * 1000)
    assert len(refreshes) >= 3
    for request in refreshes[1:]:  # the first may carry what changed since the page
        sizes = request.sizes()
        moved = sizes["responseHeadersSize"] + sizes["responseBodySize"]
        assert sizes["responseBodySize"] == 0 and moved < 1024, sizes
        assert request.response().status in (200, 304)  # 304 from the server, cached body
        assert request.all_headers().get("if-none-match"), "asked conditionally"


def test_output_follows_its_tail_unless_the_reader_scrolled_up(page, service, make_job):
    job = make_job(
        name="Chatty",
        type="shell",
        configuration={"command": "for i in $(seq 1 600); do echo line $i; sleep 0.02; done"},
        max_duration_seconds=60,
    )
    run = service.post(f"/api/jobs/{job['id']}/run").json()
    page.goto(f"/ui/jobs/{job['id']}/executions/{run['id']}")
    output = page.locator("pre#output")
    expect(output).to_contain_text("line 100", timeout=15_000)

    def at_end() -> bool:
        return output.evaluate("o => o.scrollTop + o.clientHeight >= o.scrollHeight - 4")

    def lines() -> int:
        return output.evaluate("o => o.textContent.split('\\n').length")

    seen = lines()
    # Grown by twenty lines, and at its end (the scroll follows each update's settle).
    wait_for(lambda: lines() > seen + 20 and at_end(), timeout=10)
    assert output.evaluate("o => o.scrollHeight > o.clientHeight"), "it overflows"
    output.evaluate("o => { o.scrollTop = 0; }")  # the reader scrolls up
    seen = lines()
    wait_for(lambda: lines() > seen + 20, timeout=10)
    assert output.evaluate("o => o.scrollTop") == 0, "it stays where the reader is"
