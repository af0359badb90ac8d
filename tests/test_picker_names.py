# ruff: noqa: F811 (the fixtures of test_editor are imported and then asked for by name)
"""Channels and publishers by name in the editor: picker labels that tell two ids apart, a
typed name saved as its id, and the page telling the script which name an id has."""

from django.urls import reverse

from exports.data import pickers
from exports.data.access import read_scope
from exports.data.ingestion import store_messages
from exports.models import Channel, ExportItem, ExportRequest, Message
from tests.test_editor import (  # noqa: F401
    DEVICE,
    NORTH,
    SOUTH,
    START,
    alice_client,
    create,
    post_data,
    readings,
)

TWIN = "6b1f0f3a-77aa-4b7a-9a51-0d1c2e3f4a99"  # shares NORTH's first 8 characters


def add_twin(name: str = "Greenhouse north") -> None:
    store_messages(
        [
            Message(
                channel=TWIN,
                subtopic="events.data",
                publisher="dev-2",
                name="temperature",
                unit="Cel",
                time=START,
                value=1,
            )
        ]
    )
    Channel.objects.filter(channel_id=TWIN).update(name=name)


def test_short_ids_grow_until_they_tell_ids_apart():
    shown = pickers.distinct_prefixes([NORTH, TWIN, SOUTH, "dev-1"])
    assert shown == {NORTH: "6b1f0f3a-3", TWIN: "6b1f0f3a-7", SOUTH: "9c2e1d4b", "dev-1": "dev-1"}
    # An id that is a prefix of another shows whole; one alone keeps 8 characters.
    long = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01-x"
    assert pickers.distinct_prefixes([NORTH, long])[NORTH] == NORTH
    assert pickers.distinct_prefixes([NORTH]) == {NORTH: "6b1f0f3a"}


def test_two_channels_of_one_name_are_offered_with_longer_ids(alice, readings):
    add_twin()
    found = pickers.options("channel", scope=read_scope(alice))
    labels = {option.value: (option.label, option.name) for option in found}
    assert labels[NORTH] == ("Greenhouse north (6b1f0f3a-3)", "Greenhouse north")
    assert labels[TWIN] == ("Greenhouse north (6b1f0f3a-7)", "Greenhouse north")
    assert labels[SOUTH] == (SOUTH, "")  # unnamed: the id itself, no name to show


def test_the_page_serves_the_same_distinct_labels_without_script(alice_client, readings):
    add_twin("Greenhouse north annex")
    page = alice_client.get(reverse("exports:create")).text
    assert f'<option value="{NORTH}" label="Greenhouse north (6b1f0f3a-3)">' in page
    assert f'<option value="{TWIN}" label="Greenhouse north annex (6b1f0f3a-7)">' in page


def test_a_channel_typed_by_its_exact_name_saves_its_id(alice_client, readings):
    response = create(alice_client, **{"items-0-channel_id": " greenhouse NORTH "})
    assert response.status_code == 302
    assert ExportItem.objects.get().channel_id == NORTH


def test_a_publisher_typed_by_its_name_saves_its_id(alice_client, readings):
    response = create(alice_client, **{"items-0-publisher": "Sensor 1"})
    assert response.status_code == 302
    assert ExportItem.objects.get().publisher == DEVICE


def test_a_name_two_channels_share_is_asked_about_naming_both(alice_client, readings):
    add_twin()
    response = create(alice_client, **{"items-0-channel_id": "Greenhouse north"})
    assert response.status_code == 200
    assert not ExportRequest.objects.exists()
    assert "No such channel: “Greenhouse north” has no data." in response.text
    assert (
        "Did you mean Greenhouse north (6b1f0f3a-3) or Greenhouse north (6b1f0f3a-7)?"
        in response.text
    )


def test_an_id_still_saves_as_typed(alice_client, readings):
    assert create(alice_client, **{"items-0-channel_id": NORTH}).status_code == 302
    assert ExportItem.objects.get().channel_id == NORTH


def test_the_page_tells_the_script_the_name_of_the_id_it_holds(alice_client, alice, readings):
    export = ExportRequest.objects.create(owner=alice, name="North")
    ExportItem.objects.create(
        request=export,
        target_value="temperature",
        channel_id=NORTH,
        subtopic="events.data",
        publisher=DEVICE,
    )
    page = alice_client.get(reverse("exports:edit", args=[export.pk])).text
    assert f'data-id="{NORTH}" data-name="Greenhouse north"' in page
    assert f'data-id="{DEVICE}" data-name="Sensor 1"' in page
    # Without the script the field holds the id and the name is written under it.
    assert f'value="{NORTH}"' in page
    assert "Greenhouse north (6b1f0f3a)</p>" in page

    # A name typed and sent back with an error elsewhere: the page names what it resolved to.
    data = post_data(**{"items-0-channel_id": "Greenhouse north", "name": ""})
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    assert f'data-id="{NORTH}" data-name="Greenhouse north"' in response.text
    subtopics = response.context["editor"].items.forms[0].pickers[1].options
    assert [option.value for option in subtopics] == ["events.data"]  # narrowed by its id
