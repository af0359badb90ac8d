"""The platform's topic layouts: where a bus message says its channel and subtopic.

Two layouts, each on MQTT and on NATS (``SUBSCRIBER_LAYOUTS`` picks which are subscribed):

========== ============================================== ======================================
layout     MQTT topic                                     NATS subject
========== ============================================== ======================================
channels   ``channels/<channel>/messages[/<sub/topic…>]`` ``channels.<channel>[.<sub.topic…>]``
m          ``m/<domain>/c/<channel>[/<sub/topic…>]``      ``m.<domain>.c.<channel>[.<sub.topic…>]``
========== ============================================== ======================================

The subtopic is stored with ``.`` between its parts, as the platform's writers store it
(``channels/c1/messages/events/data`` → ``events.data``). ``channels`` is Mainflux (and
Connhex); ``m`` is Magistrala/SuperMQ, whose NATS envelope also carries a domain: the layout
says which envelope to read (``exports.data.bus.envelope``). The domain is not stored (channel
ids are unique across domains).
"""

from __future__ import annotations

from typing import NamedTuple

LAYOUTS = ("channels", "m")

# Per layout: MQTT subscription filters, NATS subjects (core subscriptions, and a
# JetStream stream's subjects when the subscriber creates the stream).
MQTT_FILTERS = {"channels": ["channels/+/messages/#"], "m": ["m/+/c/+/#"]}
NATS_SUBJECTS = {"channels": ["channels.>"], "m": ["m.*.c.>"]}


class Route(NamedTuple):
    """Where a topic points: its layout, channel, subtopic (dotted) and domain."""

    layout: str
    channel: str
    subtopic: str
    domain: str = ""


class TopicError(ValueError):
    """A topic or subject that matches no subscribed layout, or holds an unusable part."""


def route(topic: str, transport: str, layouts: tuple[str, ...] = LAYOUTS) -> Route:
    """The layout, channel and subtopic of an MQTT topic or a NATS subject.

    Raises :class:`TopicError` when it matches none of ``layouts`` or has an empty part.
    """
    parts = topic.split("/" if transport == "mqtt" else ".")
    if "channels" in layouts and parts[0] == "channels":
        if transport == "mqtt":
            if len(parts) >= 3 and parts[2] == "messages":
                return _route("channels", parts[1], parts[3:])
        elif len(parts) >= 2:
            return _route("channels", parts[1], parts[2:])
    if "m" in layouts and parts[0] == "m" and len(parts) >= 4 and parts[2] == "c":
        if not parts[1]:
            raise TopicError("the domain is empty.")
        return _route("m", parts[3], parts[4:], domain=parts[1])
    raise TopicError(f"the topic matches none of the layouts {', '.join(layouts)}.")


def _route(layout: str, channel: str, subtopic: list[str], domain: str = "") -> Route:
    if not channel:
        raise TopicError("the channel is empty.")
    if any(not part or part in ("+", "#", "*", ">") for part in subtopic):
        raise TopicError("the subtopic has an empty or wildcard part.")
    return Route(layout, channel, ".".join(subtopic), domain)


def mqtt_filters(layouts: tuple[str, ...]) -> list[str]:
    return [topic for layout in layouts for topic in MQTT_FILTERS[layout]]


def nats_subjects(layouts: tuple[str, ...]) -> list[str]:
    return [subject for layout in layouts for subject in NATS_SUBJECTS[layout]]
