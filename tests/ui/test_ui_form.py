"""The job form in a real Chromium: the live schedule preview, field errors from the API's
own validation next to their fields, and saving a new job and an edit."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import run_and_wait, wait_for


def test_the_preview_follows_the_schedule_as_it_is_typed(page, service):
    page.goto("/ui/jobs/new")
    preview = page.get_by_label("Schedule preview")
    expect(preview).to_contain_text("Type a schedule")
    page.get_by_label("Schedule", exact=True).press_sequentially("*/15 * * * *")
    expect(preview).to_contain_text("Every 15 minutes")
    expect(preview.locator("time")).to_have_count(5)
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:(00|15|30|45):00 UTC", t)
        for t in preview.locator("time").all_inner_texts()
    )
    page.get_by_label("Schedule", exact=True).fill("90m")
    expect(preview).to_contain_text("Every 1 hour 30 minutes")
    page.get_by_label("Schedule", exact=True).fill("0 2 * * 99")
    expect(preview.locator(".field-error")).to_be_visible()
    page.get_by_label("Schedule", exact=True).fill("30 2 * * *")
    page.get_by_label("Timezone").fill("Europe/Berlin")
    expect(preview).to_contain_text("Next fires (Europe/Berlin)")
    expect(preview.get_by_role("note").first).to_contain_text("skips 02:30:00")


def test_one_save_shows_every_error_in_plain_words_by_its_field(page, service):
    page.goto("/ui/jobs/new")
    page.get_by_label("Name").fill("Broken job")
    page.get_by_label("Schedule", exact=True).fill("every day")
    page.get_by_label("Timezone").fill("Mars/Olympus")
    page.locator("#config-method").select_option("GET")  # and no url
    page.get_by_label("Retries").fill("eleven")
    page.get_by_label("Max duration (s)").fill("0")
    page.get_by_label("Use the service's defaults").uncheck()
    page.get_by_label("Notify URLs").fill("nothing-like-a-url")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("The job was not saved")
    for field, message in (
        ("Retries", "Must be a whole number."),
        ("Max duration (s)", "Must be greater than or equal to 1"),
        ("url (required)", "Required."),
        ("Notify URLs", "nothing-like-a-url"),
    ):
        box = page.get_by_label(field)
        expect(box).to_have_attribute("aria-invalid", "true")
        error_id = box.get_attribute("aria-describedby").split()[0]
        expect(page.locator(f"#{error_id}")).to_contain_text(message)
    expect(page.locator("#error-schedule")).to_be_visible()
    timezone = page.locator("#error-timezone")
    expect(timezone).to_contain_text("Mars/Olympus")
    assert timezone.inner_text().count("Mars/Olympus") == 1, "said once"
    expect(page.get_by_label("Name")).to_have_value("Broken job")
    expect(page.get_by_label("Retries")).to_have_value("eleven")
    # Everything fixed in one go: saved.
    page.get_by_label("Schedule", exact=True).fill("1h")
    page.get_by_label("Timezone").fill("UTC")
    page.locator("#config-url").fill(f"{service.base_url}/healthz")
    page.get_by_label("Retries").fill("1")
    page.get_by_label("Max duration (s)").fill("60")
    page.get_by_label("Use the service's defaults").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Broken job")).to_be_visible()
    assert len(service.get("/api/jobs", params={"q": "Broken job"}).json()) == 1


def test_invalid_json_configuration_is_named(page, service):
    page.goto("/ui/jobs/new")
    page.get_by_label("Name").fill("Bad JSON")
    page.get_by_label("Schedule", exact=True).fill("1h")
    page.locator("#config-url").fill(f"{service.base_url}/healthz")
    page.get_by_label("Other settings").fill("{not json")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-configuration")).to_contain_text("Not valid JSON")
    assert service.get("/api/jobs", params={"q": "Bad JSON"}).json() == []


def test_saving_the_form_creates_the_job_and_edit_changes_it(page, service, target):
    page.goto("/ui/jobs/new")
    page.get_by_label("Name").fill("Made in the UI")
    page.get_by_label("ID (optional)").fill("made-in-the-ui")
    page.get_by_label("Schedule", exact=True).fill("0 6 * * mon-fri")
    page.get_by_label("Timezone").fill("America/New_York")
    page.locator("#config-url").fill(target.url("/ok"))
    page.locator("#config-method").select_option("POST")
    page.get_by_label("Retries").fill("2")
    page.get_by_label("When a fire finds it still running").select_option("allow")
    page.get_by_label("Run on workers labelled").fill("role=web, zone=b")
    page.get_by_label("Use the service's defaults").uncheck()
    page.get_by_role("checkbox", name="success").check()
    page.get_by_label("Notify URLs").fill(target.url("/ok?token=s3cret"))
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/made-in-the-ui$"))
    expect(page.get_by_role("status")).to_contain_text("created")
    job = service.get("/api/jobs/made-in-the-ui").json()
    assert job["schedule"] == "0 6 * * mon-fri" and job["timezone"] == "America/New_York"
    assert job["configuration"]["method"] == "POST" and job["retry_count"] == 2
    assert job["overlap_policy"] == "allow"
    assert job["run_on"] == {"role": "web", "zone": "b"}
    expect(page.locator("dl.fields")).to_contain_text("role=web, zone=b")
    assert job["notify"]["on"] == ["failure", "recovery", "missed", "success"]
    assert job["notify"]["urls"] == [target.url("/ok?token=s3cret")]  # an admin sees it

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Name")).to_have_value("Made in the UI")
    expect(page.get_by_label("Notify URLs")).to_have_value(target.url("/ok?token=s3cret"))
    expect(page.get_by_label("Schedule preview")).to_contain_text("Monday through Friday")
    expect(page.get_by_label("Run on workers labelled")).to_have_value("role=web, zone=b")
    page.get_by_label("Run on workers labelled").fill("")
    page.get_by_label("Name").fill("Made and changed")
    page.get_by_label("Schedule", exact=True).fill("45m")
    page.get_by_label("Description").fill("Changed in the UI.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    job = service.get("/api/jobs/made-in-the-ui").json()
    assert job["name"] == "Made and changed" and job["schedule"] == "45m"
    assert job["run_on"] == {}
    assert job["description"] == "Changed in the UI."
    # The masked URL sent back kept the real one: the notification goes to it.
    service.post("/api/jobs/made-in-the-ui/run")
    wait_for(lambda: target.hits_for("token=s3cret"))


def test_an_edit_refused_by_the_service_shows_the_error_by_its_field(page, service, make_job):
    job = make_job(name="Edit refusal")
    page.goto(f"/ui/jobs/{job['id']}/edit")
    page.get_by_label("Timezone").fill("Mars/Olympus")
    page.get_by_label("Concurrency group").fill("nightly-db")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-timezone")).to_contain_text("Unknown timezone 'Mars/Olympus'")
    expect(page.get_by_label("Timezone")).to_have_value("Mars/Olympus")
    page.get_by_label("Timezone").fill("UTC")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#error-concurrency_group")).to_contain_text("Unknown group 'nightly-db'")
    expect(page.get_by_label("Concurrency group")).to_have_value("nightly-db")
    assert service.get(f"/api/jobs/{job['id']}").json()["timezone"] == "UTC"


def test_type_fields_make_a_working_job_and_follow_the_type(page, service, target):
    page.goto("/ui/jobs/new")
    page.get_by_label("Name").fill("Typed fields")
    page.get_by_label("Schedule", exact=True).fill("1h")
    expect(page.locator("#config-url")).to_be_visible()  # http's own fields
    page.locator("#config-url").fill(target.url("/ok"))
    page.locator("#config-method").select_option("GET")
    expect(page.locator("#config-verify_tls")).to_be_checked()  # its default
    page.get_by_label("Other settings").fill('{"headers": {"X-Team": "ops"}}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Typed fields")).to_be_visible()
    job_id = page.url.rsplit("/", 1)[1]
    configuration = service.get(f"/api/jobs/{job_id}").json()["configuration"]
    assert configuration["url"] == target.url("/ok") and configuration["headers"] == {
        "X-Team": "ops"
    }
    assert run_and_wait(service, job_id)["status"] == "success"  # it works
    # Edit shows the typed values; switching the type shows the other type's fields,
    # and its JSON box starts empty.
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.locator("#config-url")).to_have_value(target.url("/ok"))
    expect(page.get_by_label("Other settings")).to_contain_text("X-Team")
    page.get_by_label("Type").select_option("shell")
    expect(page.locator("#config-command")).to_be_visible()
    expect(page.locator("#config-url")).to_have_count(0)
    expect(page.get_by_label("Other settings")).to_have_value("")
