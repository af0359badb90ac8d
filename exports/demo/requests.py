"""The demo export requests, in the platform's JSON shape, with the user who owns each."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from exports.demo.devices import CHANNEL_NAMES, CHANNELS, SUBTOPIC


def demo_requests(until: datetime) -> list[tuple[str, dict]]:
    """The demo export requests as (owner's user name, request in the platform's JSON shape)."""
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    local_midnight = until.astimezone(rome).replace(hour=0, minute=0, second=0, microsecond=0)
    requests = [
        {
            "name": "Greenhouse climate, daily",
            "type": "recurring",
            "periodicity": "P1D",
            # Two days back, so the last two local midnights are past slots that the seed
            # runs (files to download on a first start); the next run is the coming midnight.
            "periodStart": (local_midnight - timedelta(days=2)).isoformat(),
            "format": {
                "extension": "csv",
                "timezone": "Europe/Rome",
                "csvDelimiter": ";",
                "columns": [
                    {"id": "time", "label": "Time (Europe/Rome)"},
                    # Names people read, as a new request in the editor starts with.
                    {"id": "publisherName", "label": "Device"},
                    {"id": "channelName", "label": "Channel"},
                    {"id": "name", "label": "Metric"},
                    {"id": "value", "label": "Reading"},
                    {"id": "unit", "label": "Unit"},
                ],
            },
            "items": [
                {
                    "params": {
                        "target": {
                            "value": "temperature,humidity",
                            "label": "Temperature,Humidity",
                        },
                        "channelId": CHANNELS["greenhouse"],
                        "subtopic": SUBTOPIC,
                        "period": "P1D",
                        "decimation": {"ds": "15m", "dsf": "avg"},
                        "outputFormat": "long",
                    }
                }
            ],
            "notification": {
                "messages": [
                    {
                        "policy": "onSuccess",
                        "medium": "email",
                        "title": "Greenhouse climate is ready",
                    }
                ]
            },
        },
    ]
    return [("alice", data) for data in requests] + [
        (owner, _energy_last_week(name, key, until))
        for owner, name, key in (
            ("alice", "Energy use, last week", "greenhouse"),
            ("bob", "Cold storage energy, last week", "cold-storage"),
        )
    ]


def _energy_last_week(name: str, key: str, until: datetime) -> dict:
    site = CHANNEL_NAMES[key]
    return {
        "name": name,
        "type": "oneTime",
        "format": {"extension": "xlsx", "template": "expanded"},
        "items": [
            {
                "params": {
                    "target": {"value": "energy", "label": f"{site} energy (kWh)"},
                    "channelId": CHANNELS[key],
                    "subtopic": SUBTOPIC,
                    "from": (until - timedelta(days=7)).isoformat(),
                    "to": until.isoformat(),
                    "decimation": {"ds": "1d", "dsf": "max"},
                    "transform": "delta",
                    "outputFormat": "wide",
                },
                "filename": f"{key}-energy",
            }
        ],
    }
