"""Test sends: a sample notification for one message, through the real transport."""

from __future__ import annotations

from exports.models import NotificationMessage
from exports.requests.vocabulary import Policy
from notifications.facts import sample_facts
from notifications.links import request_url
from notifications.transports import transport_for


def send_sample(message: NotificationMessage) -> str:
    """Send ``message`` now about a made-up job of its request; no job or delivery is stored.

    The sample is a success or a failure as the message's policy says, and its
    link is the request page (there is no file to download). Returns the
    provider's answer summary. Raises ``TransportError`` with the real error.
    """
    transport = transport_for(message)
    facts = sample_facts(
        message.request,
        request_url(message.request),
        success=message.policy == Policy.ON_SUCCESS,
    )
    return transport.notify(facts)
