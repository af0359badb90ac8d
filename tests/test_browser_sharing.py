"""Sharing in a real browser: the owner shares a request with a team from its page; a member
of the team finds it under "Shared with me", sees who owns it and whom it is shared with, and
gets no control that changes it. At 1280 px and on a phone (390 px).

Screenshots go to /tmp/shots-share/ (outside the repository) for people to look at.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from playwright.sync_api import expect

from exports.models import ExportItem, ExportRequest, RequestShare, ShareRole
from tests.test_browser_pages import fits_the_width, sign_in, visible_text

SHOTS = Path("/tmp/shots-share")
WIDTHS = {"wide": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_a_team_member_finds_a_shared_request_and_cannot_change_it(
    live_server, chromium_page, settings
):
    settings.EXPORTS_DATA_ACCESS = "open"
    page = chromium_page
    users = get_user_model().objects
    alice = users.create_user("alice", "alice@example.com", "alice-pass-123")
    bob = users.create_user("bob", "bob@example.com", "bob-pass-123")
    dave = users.create_user("dave", "dave@example.com", "dave-pass-123")
    team = Group.objects.create(name="cold-chain")
    bob.groups.add(team)
    export = ExportRequest.objects.create(owner=alice, name="Freezer temperatures")
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id="c1", subtopic="events.data"
    )
    ExportRequest.objects.create(owner=bob, name="Bob's own export")
    RequestShare.objects.create(request=export, user=dave, role=ShareRole.EDITOR)

    # The owner shares it with the team from the request page.
    sign_in(page, live_server, "alice", "alice-pass-123")
    page.set_viewport_size(WIDTHS["wide"])
    page.goto(live_server.url + reverse("exports:detail", args=[export.pk]))
    sharing = page.locator("#sharing")
    sharing.get_by_label("or team").select_option(label="cold-chain")
    sharing.get_by_label("Role").select_option("viewer")
    sharing.get_by_role("button", name="Share").click()
    expect(page.get_by_text("is shared with @cold-chain as viewer")).to_be_visible()
    for name, size in WIDTHS.items():
        page.set_viewport_size(size)
        shoot(page, f"detail-owner-{name}")
        assert fits_the_width(page), name
    page.context.clear_cookies()

    # A member of the team: "Shared with me" lists it with its owner; its page has no controls.
    sign_in(page, live_server, "bob", "bob-pass-123")
    page.set_viewport_size(WIDTHS["wide"])
    page.get_by_label("Whose").select_option("shared")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("link", name="Freezer temperatures")).to_be_visible()
    assert "Bob's own export" not in visible_text(page)
    row = page.locator("tr", has_text="Freezer temperatures")
    expect(row.locator("td[data-label=Owner]")).to_have_text("alice")
    for name, size in WIDTHS.items():
        page.set_viewport_size(size)
        shoot(page, f"list-shared-{name}")
        assert fits_the_width(page), name
    page.set_viewport_size(WIDTHS["wide"])
    page.get_by_label("Whose").select_option("")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("link", name="Bob's own export")).to_be_visible()
    shoot(page, "list-all-wide")

    page.get_by_role("link", name="Freezer temperatures").click()
    expect(page.get_by_role("heading", name="Shared with")).to_be_visible()
    text = visible_text(page)
    assert "@cold-chain" in text and "dave" in text and "editor" in text
    assert "shared with you as viewer" in text
    assert "Stop sharing" not in page.content()  # the remove buttons' names
    for control in ("Edit", "Run now", "Pause", "Delete", "Share"):
        expect(page.get_by_role("button", name=control, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name=control, exact=True)).to_have_count(0)
    for name, size in WIDTHS.items():
        page.set_viewport_size(size)
        shoot(page, f"detail-viewer-{name}")
        assert fits_the_width(page), name
