# ruff: noqa: F811 (the fixtures of test_editor are imported and then asked for by name)
"""A channel or subtopic the catalog never saw is caught before save, with the closest names."""

from django.urls import reverse

from exports.data.access import read_scope
from exports.data.typos import unknown_place
from exports.editor.preview import preview_request
from exports.models import ExportItem, ExportRequest
from tests.test_editor import NORTH, SOUTH, alice_client, create, post_data, readings  # noqa: F401


def test_a_channel_typed_by_its_name_is_asked_about_naming_the_closest(alice_client, readings):
    response = create(alice_client, **{"items-0-channel_id": "Greenhouse"})
    assert response.status_code == 200
    assert "No such channel: “Greenhouse” has no data." in response.text
    assert "Did you mean Greenhouse north (6b1f0f3a)" in response.text
    assert not ExportRequest.objects.exists()
    [group] = response.context["unknown"]
    assert group.place.kind == "channel" and group.names == []  # not also every metric

    confirmed = post_data(**{"items-0-channel_id": "Greenhouse"})
    confirmed["confirm_unknown"] = group.confirmation
    assert alice_client.post(reverse("exports:create"), confirmed).status_code == 302
    assert ExportItem.objects.get().channel_id == "Greenhouse"


def test_a_mistyped_id_suggests_the_id_it_is_close_to(alice, readings):
    place = unknown_place(SOUTH[:-1] + "x", "other.data", scope=read_scope(alice))
    assert place.kind == "channel" and place.closest == [SOUTH]
    assert unknown_place(NORTH, "events.data", scope=read_scope(alice)) is None
    assert unknown_place(NORTH, "events.dat", scope=read_scope(alice)).closest == ["events.data"]


def test_saving_again_does_not_ask_about_a_stored_channel(alice_client, alice, readings):
    export = ExportRequest.objects.create(owner=alice, name="Future")
    item = ExportItem.objects.create(
        request=export, target_value="co2", channel_id="future-room", subtopic="events.data"
    )
    data = post_data(
        name="Future, renamed",
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(export.pk),
            "items-0-channel_id": "future-room",
            "items-0-target_value": "co2",
        },
    )
    response = alice_client.post(reverse("exports:edit", args=[export.pk]), data)
    assert response.status_code == 302


def test_the_preview_says_no_such_channel(alice, readings):
    data = {
        "type": "oneTime",
        "format": {"extension": "csv"},
        "items": [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": "Greenhouse",
                    "subtopic": "events.data",
                }
            }
        ],
    }
    preview = preview_request(data, alice)
    [item] = preview.as_json()["items"]
    assert item["unknownPlace"].startswith("No such channel: “Greenhouse”")
    assert item["unknownMetrics"] == []
