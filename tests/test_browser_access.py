"""The access pages in a real browser: staff grant read to a team by picking names, and every
page fits a phone. Screenshots go to /tmp/shots-access/ (outside the repository)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from playwright.sync_api import expect

from exports.data.access import can_read
from exports.models import Channel, ChannelGrant, Series

SHOTS = Path("/tmp/shots-access")
GREEN = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
ORPHAN = "9d0c4b1e-5f1a-4c1e-8a51-77aa00bb11cc"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.django_db(transaction=True)
def test_staff_grant_read_to_a_team_with_the_pickers(live_server, chromium_page, settings):
    settings.EXPORTS_DATA_ACCESS = "grants"
    users = get_user_model().objects
    users.create_superuser("admin", "admin@example.com", "admin-pass-123")
    alice = users.create_user("alice", password="alice-pass-123")
    users.create_user("bob-with-a-rather-long-name", password="x")
    growers = Group.objects.create(name="growers")
    growers.user_set.add(alice)
    Group.objects.create(name="facility-managers")
    Channel.objects.create(channel_id=GREEN, name="Greenhouse north wing")
    for channel, subtopic in [(GREEN, "events.data"), (GREEN, "events.alarms"), (ORPHAN, "")]:
        Series.objects.create(
            channel=channel,
            subtopic=subtopic,
            publisher="dev-1",
            name="temperature",
            count=5,
            first_time=T0,
            last_time=T0,
        )
    ChannelGrant.objects.create(
        group=Group.objects.get(name="facility-managers"), channel_id=ORPHAN, can_publish=True
    )

    page = chromium_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-pass-123")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Access").click()
    expect(page.get_by_role("heading", name="Channel access")).to_be_visible()
    expect(page.locator(".access-mode")).to_contain_text("grants")
    shoot(page, "channels-1280")

    page.get_by_role("link", name="Greenhouse north wing").click()
    page.get_by_label("Team or user").select_option(label="@growers")
    page.get_by_label("Subtopic:", exact=True).select_option("events")
    page.get_by_label("Read").check()
    page.get_by_role("button", name="Grant").click()
    expect(page.locator(".messages")).to_contain_text("@growers on Greenhouse north wing")
    row = page.locator("table.access-grants tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("@growers")
    expect(row).to_contain_text("events")
    expect(row).to_contain_text("read")
    assert can_read(alice, GREEN, "events.data") and not can_read(alice, GREEN)
    shoot(page, "channel-1280")

    # Neither read nor publish: the page says so and saves nothing.
    page.get_by_label("Team or user").select_option(label="bob-with-a-rather-long-name")
    page.get_by_label("Or another subtopic prefix").fill("events.data")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator(".form-errors")).to_contain_text("Choose what to grant")
    shoot(page, "channel-errors-1280")
    assert ChannelGrant.objects.count() == 2

    page.get_by_role("link", name="Access").click()
    expect(page.locator("table.access-channels")).to_contain_text("@growers")

    pages = {
        "channels": reverse("exports:access-channels"),
        "channel": reverse("exports:access-channel", args=[GREEN]),
        "groups": reverse("exports:access-groups"),
        "group": reverse("exports:access-group", args=[growers.pk]),
        "group-delete": reverse("exports:access-group-delete", args=[growers.pk]),
    }
    page.goto(live_server.url + pages["groups"])
    shoot(page, "groups-1280")
    page.goto(live_server.url + pages["group"])
    shoot(page, "group-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in pages.items():
        page.goto(live_server.url + url)
        assert fits_the_width(page), name
        shoot(page, f"{name}-390")
    page.goto(live_server.url + pages["channel"])
    page.get_by_label("Team or user").select_option(label="@growers")
    page.get_by_label("Or another subtopic prefix").fill(".bad")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator(".form-errors")).to_contain_text("neither starts nor ends with a dot")
    assert fits_the_width(page)
    shoot(page, "channel-errors-390")
