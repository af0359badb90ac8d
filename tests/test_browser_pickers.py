"""The item's window and decimation picked, not typed (headless Chromium, 1280 and 390 px)."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from exports.models import ExportRequest
from tests.test_browser_editor import fits_the_screen, pick, seed, sign_in

SHOTS = Path(os.environ.get("EDITOR_SHOTS", "/tmp/shots-editor"))


def shoot(page, name: str) -> None:
    if os.environ.get("EDITOR_SHOTS") is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        # A full-page shot resizes the viewport and back, which scrolls the page under the
        # next click; leave the focused field (as a user would) before going on.
        page.evaluate("document.activeElement.blur()")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_a_recurring_export_with_no_typed_syntax(live_server, chromium_page, redis_conn, width):
    seed()
    page = chromium_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    page.get_by_role("textbox", name="Name:", exact=True).fill("Daily north")
    page.get_by_label("Type").select_option("recurring")
    page.get_by_label("Repeat").select_option("daily")
    page.get_by_label("At:", exact=True).fill("00:00")
    page.get_by_label("Time zone").select_option("Europe/Rome")
    pick(page, "items-0-channel_id", "Greenhouse north (6b1f0f3a)")
    pick(page, "items-0-subtopic", "events.data")
    page.get_by_label("Add metrics from the catalog").first.click()
    page.get_by_role("option", name="temperature Cel").click()

    window = page.locator('[name="items-0-window"]')
    # Recurring: the default window is the scheduled period; the ISO field hides until asked.
    expect(window.locator('option[value=""]')).to_have_text(
        "The scheduled period (since the previous run)"
    )
    duration = page.locator('[name="items-0-period"]')
    assert not duration.is_visible()
    window.select_option("custom")
    assert duration.is_visible()
    duration.fill("P1DT6H")
    expect(page.locator("#id_items-0-period_helptext")).to_contain_text("1 day and 6 hours")
    window.select_option("between")
    expect(page.locator("#id_items-0-from_time_helptext")).to_contain_text("(Europe/Rome)")
    expect(page.locator("#id_items-0-from_time_helptext")).not_to_contain_text("UTC")
    window.select_option("yesterday")
    assert not duration.is_visible()

    assert not page.locator('[name="items-0-ds_size"]').is_visible()
    page.locator('[name="items-0-ds_unit"]').select_option("m")
    page.locator('[name="items-0-ds_size"]').fill("15")
    expect(page.locator("#id_items-0-ds_unit_helptext")).to_have_text("15-minute averages")
    page.locator('[name="items-0-dsf"]').select_option("max")
    expect(page.locator("#id_items-0-ds_unit_helptext")).to_have_text("15-minute maxima")
    assert fits_the_screen(page)
    shoot(page, f"editor-{width}")

    page.get_by_role("button", name="Create export").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    export = ExportRequest.objects.get()
    item = export.items.get()
    assert (item.calendar_range, item.period, item.ds, item.dsf) == ("yesterday", "", "15m", "max")
    assert export.periodicity == "P1D"

    # Opened again, the pickers show what is stored.
    page.goto(live_server.url + reverse("exports:edit", args=[export.pk]))
    assert page.locator('[name="items-0-window"]').input_value() == "yesterday"
    assert page.locator('[name="items-0-ds_unit"]').input_value() == "m"
    assert page.locator('[name="items-0-ds_size"]').input_value() == "15"
    shoot(page, f"editor-edit-{width}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("marked, chosen", [("humidity", "humidity"), ("temperature", "")])
def test_a_late_answer_never_lets_enter_choose_an_unseen_option(
    live_server, chromium_page, redis_conn, marked, chosen
):
    """Arrows move on the list on show while the answer for the typed text is on its way; when
    it comes, the marked option stays marked if it is in it, else nothing is, and Enter then
    chooses nothing rather than whatever now sits at the old place."""
    seed()
    page = chromium_page
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    held = []
    page.route(lambda url: "q=hum" in url, lambda route: held.append(route))
    search = page.get_by_label("Add metrics from the catalog").first
    search.click()
    listbox = page.locator("#" + search.get_attribute("aria-controls"))
    expect(listbox.get_by_role("option")).to_have_count(2)  # everything, for the empty text
    expect(listbox).not_to_have_attribute("aria-busy", "true")
    search.press_sequentially("hum")
    expect(listbox).to_have_attribute("aria-busy", "true")
    while listbox.locator('[aria-selected="true"]').count() == 0 or not (
        listbox.locator('[aria-selected="true"]').inner_text().startswith(marked)
    ):
        search.press("ArrowDown")
    for _ in range(100):  # the debounced request may not have left yet
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the typed text was never asked for"
    held[0].continue_()
    expect(listbox).not_to_have_attribute("aria-busy", "true")
    expect(listbox.get_by_role("option")).to_have_count(1)
    selected = listbox.locator('[aria-selected="true"]')
    expect(selected).to_have_count(1 if chosen else 0)
    search.press("Enter")
    target = page.locator('[name="items-0-target_value"]')
    assert target.input_value() == chosen
    if not chosen:  # still open, nothing marked: the arrows mark what is on show now
        expect(listbox).to_be_visible()
        search.press("ArrowDown")
        search.press("Enter")
        assert target.input_value() == "humidity"
