"""Request builders shared by test modules."""

from datetime import datetime, timedelta

from exports.models import ExportRequest
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec


def one_day_of_temperature(owner, *, name: str, channel: str, start: datetime) -> ExportRequest:
    """A saved one-time CSV request (Europe/Rome) for ``temperature`` of ``channel`` over the
    day from ``start``."""
    spec = parse_request(
        {
            "name": name,
            "type": "oneTime",
            "format": {"extension": "csv", "timezone": "Europe/Rome"},
            "items": [
                {
                    "params": {
                        "target": {"value": "temperature"},
                        "channelId": channel,
                        "subtopic": "events.data",
                        "from": start.isoformat(),
                        "to": (start + timedelta(days=1)).isoformat(),
                    }
                }
            ],
        },
        owner=owner,
    )
    return save_spec(spec)
