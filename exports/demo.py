"""Demo data for a fresh install: users, devices on two channels, readings and export requests.

Everything is deterministic (seeded randomness, fixed ids) and idempotent: users and
requests are looked up by name, and each series (publisher, metric) continues after its
last stored reading, so running the seed again adds nothing (or only the newer readings).
Each demo request is given finished jobs by the real engine, once, so a first start has
files to download.
``manage.py seeddemo`` is the front end.
"""

from __future__ import annotations

import math
import random
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from exports.data.ingestion import store_messages
from exports.iam import acting_as
from exports.models import Channel, ExportRequest, Message, Publisher
from exports.queue.runner import create_job, run_job
from exports.requests.display import format_time
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec
from exports.scheduling.slots import slots_between

# (username, password, is_superuser). The passwords pass Django's password validators.
DEMO_USERS = [
    ("admin", "exporter-demo-admin", True),
    ("alice", "exporter-demo-alice", False),
    ("bob", "exporter-demo-bob", False),
]

SUBTOPIC = "events.data"
STEP = timedelta(minutes=5)
CHANNELS = {
    "greenhouse": "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01",
    "cold-storage": "c01d5e7a-8f2b-4c3d-b6e4-7a8b9c0d1e02",
}
# The human names pages show beside the ids ("Greenhouse (6b1f0f3a)", "Cold storage (c01d5e7a)").
CHANNEL_NAMES = {"greenhouse": "Greenhouse", "cold-storage": "Cold storage"}
# The teams (Django groups): who is in each, and the channel its members read and publish to.
# Staff read every channel; a user in no team reads none (EXPORTS_DATA_ACCESS=grants).
TEAMS = {"greenhouse": (("alice",), "greenhouse"), "cold-chain": (("bob",), "cold-storage")}


@dataclass(frozen=True)
class Device:
    """A demo thing: where it publishes and the character of its readings."""

    publisher: str
    channel: str
    label: str
    temperature: float  # daily mean, °C
    swing: float  # half the day-night difference, °C
    humidity: float  # mean, %RH
    power: float  # mean electric power, kW
    meter_start: float  # the energy counter at its first reading, kWh


DEVICES = (
    Device(
        publisher="a3c9e0d2-5b7f-4e61-8c2a-1f0e9d8c7b01",
        channel=CHANNELS["greenhouse"],
        label="Greenhouse north",
        temperature=22.0,
        swing=5.0,
        humidity=68.0,
        power=1.2,
        meter_start=1520.0,
    ),
    Device(
        publisher="a3c9e0d2-5b7f-4e61-8c2a-1f0e9d8c7b02",
        channel=CHANNELS["greenhouse"],
        label="Greenhouse south",
        temperature=24.0,
        swing=6.5,
        humidity=62.0,
        power=1.6,
        meter_start=2384.5,
    ),
    Device(
        publisher="a3c9e0d2-5b7f-4e61-8c2a-1f0e9d8c7b03",
        channel=CHANNELS["cold-storage"],
        label="Cold room 1",
        temperature=4.0,
        swing=0.6,
        humidity=85.0,
        power=3.1,
        meter_start=10412.0,
    ),
    Device(
        publisher="a3c9e0d2-5b7f-4e61-8c2a-1f0e9d8c7b04",
        channel=CHANNELS["cold-storage"],
        label="Freezer 2",
        temperature=-18.0,
        swing=0.8,
        humidity=75.0,
        power=4.4,
        meter_start=20877.25,
    ),
)


def _daily(moment: datetime, peak_hour: float) -> float:
    """A day-long sine wave between -1 and 1 that peaks at ``peak_hour`` (UTC)."""
    hours = moment.hour + moment.minute / 60
    return math.sin(2 * math.pi * (hours - peak_hour + 6) / 24)


def _temperature(
    device: Device, moment: datetime, rng: random.Random, previous: float | None
) -> float:
    return round(device.temperature + device.swing * _daily(moment, 14) + rng.gauss(0, 0.25), 2)


def _humidity(
    device: Device, moment: datetime, rng: random.Random, previous: float | None
) -> float:
    # Relative humidity falls as the air warms up.
    humidity = device.humidity - 1.5 * device.swing * _daily(moment, 14) + rng.gauss(0, 1.2)
    return round(min(100.0, max(5.0, humidity)), 1)


def _energy(device: Device, moment: datetime, rng: random.Random, previous: float | None) -> float:
    # A meter reading: the previous one plus this interval's consumption, always > 0.
    power = device.power * (1 + 0.35 * _daily(moment, 13)) * rng.uniform(0.85, 1.15)
    return round(previous + power * STEP.total_seconds() / 3600, 3)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    reading: Callable[[Device, datetime, random.Random, float | None], float]
    is_counter: bool = False


METRICS = (
    Metric("temperature", "Cel", _temperature),
    Metric("humidity", "%RH", _humidity),
    Metric("energy", "kWh", _energy, is_counter=True),
)


def readings(
    device: Device, metric: Metric, begin: datetime, end: datetime, previous: float | None
) -> Iterator[tuple[datetime, float]]:
    """The ``(time, value)`` readings of one series every ``STEP`` in ``[begin, end)``.

    ``previous`` is the last stored value (counters continue from it). The same
    arguments always give the same readings.
    """
    rng = random.Random(f"{device.publisher}/{metric.name}/{begin.isoformat()}")
    if metric.is_counter and previous is None:
        previous = device.meter_start
    moment = begin
    while moment < end:
        previous = metric.reading(device, moment, rng, previous)
        yield moment, previous
        moment += STEP


@dataclass
class SeedReport:
    """What one seeding run did, for the command to print."""

    # (username, password, is_admin, created), (team, members, channel name) and
    # (owner, request name, created)
    users: list[tuple[str, str, bool, bool]] = field(default_factory=list)
    teams: list[tuple[str, list[str], str]] = field(default_factory=list)
    messages_created: int = 0
    start: datetime | None = None
    end: datetime | None = None
    requests: list[tuple[str, str, bool]] = field(default_factory=list)
    # (request name, job status in words, slot in the request's zone, rows) of the jobs run
    jobs: list[tuple[str, str, str, int | None]] = field(default_factory=list)


def seed(*, until: datetime, days: int = 8, batch_size: int = 5000) -> SeedReport:
    """Create what is missing of the demo data, with readings in ``[until - days, until)``.

    Runs in one transaction. Raises ``ValidationError`` if a demo password fails
    the configured password validators.
    """
    report = SeedReport()
    until = until.replace(minute=until.minute - until.minute % 5, second=0, microsecond=0)
    report.start, report.end = until - timedelta(days=days), until
    with transaction.atomic():
        users = _seed_users(report)
        report.messages_created = _seed_readings(report.start, until, batch_size)
        _seed_names()
        _seed_teams(users, report)
        _seed_requests(users, until, report)
    # After the commit: each job is its own unit of work, as when a worker runs it.
    _seed_jobs(users, until, report)
    return report


def _seed_users(report: SeedReport) -> dict[str, object]:
    model = get_user_model()
    users = {}
    for username, password, is_admin in DEMO_USERS:
        user = model.objects.filter(username=username).first()
        created = user is None
        if created:
            user = model(username=username, email=f"{username}@example.com")
            user.is_staff = user.is_superuser = is_admin
            validate_password(password, user)
            user.set_password(password)
            user.save()
        users[username] = user
        report.users.append((username, password, is_admin, created))
    return users


def _seed_names() -> None:
    """Name the demo channels and devices, unless someone renamed them in the admin."""
    for key, channel_id in CHANNELS.items():
        channel, _ = Channel.objects.get_or_create(channel_id=channel_id)
        if not channel.name:
            channel.name = CHANNEL_NAMES[key]
            channel.save(update_fields=["name"])
    for device in DEVICES:
        publisher, _ = Publisher.objects.get_or_create(publisher_id=device.publisher)
        if not publisher.name:
            publisher.name = device.label
            publisher.save(update_fields=["name"])


def _seed_teams(users: dict[str, object], report: SeedReport) -> None:
    """The demo teams, their members and their grants (read and publish on their channel)."""
    from django.contrib.auth.models import Group

    from exports.models import ChannelGrant

    for team, (members, channel_key) in TEAMS.items():
        group, _ = Group.objects.get_or_create(name=team)
        group.user_set.add(*(users[name] for name in members))
        ChannelGrant.objects.get_or_create(
            group=group,
            channel_id=CHANNELS[channel_key],
            subtopic="",
            defaults={"can_read": True, "can_publish": True},
        )
        report.teams.append((team, list(members), CHANNEL_NAMES[channel_key]))


def _seed_readings(start: datetime, end: datetime, batch_size: int) -> int:
    created_at = timezone.now()
    pending: list[Message] = []
    total = 0
    for device in DEVICES:
        for metric in METRICS:
            series = Message.objects.filter(
                channel=device.channel,
                subtopic=SUBTOPIC,
                name=metric.name,
                publisher=device.publisher,
            )
            last = series.order_by("-time").values_list("time", "value").first()
            begin, previous = start, None
            if last is not None:
                begin, previous = max(start, last[0] + STEP), last[1]
            for moment, value in readings(device, metric, begin, end, previous):
                pending.append(
                    Message(
                        channel=device.channel,
                        subtopic=SUBTOPIC,
                        publisher=device.publisher,
                        protocol="senml",
                        name=metric.name,
                        unit=metric.unit,
                        time=moment,
                        value=value,
                        created=created_at,
                    )
                )
                if len(pending) >= batch_size:
                    store_messages(pending)
                    total += len(pending)
                    pending.clear()
    store_messages(pending)
    return total + len(pending)


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
                    {"id": "publisher", "label": "Device"},
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


def _seed_requests(users: dict[str, object], until: datetime, report: SeedReport) -> None:
    for username, data in demo_requests(until):
        owner = users[username]
        exists = ExportRequest.objects.filter(owner=owner, name=data["name"]).exists()
        if not exists:
            with acting_as(owner):
                save_spec(parse_request(data, owner=owner))
        report.requests.append((username, data["name"], not exists))


def _seed_jobs(users: dict[str, object], until: datetime, report: SeedReport) -> None:
    """Give each demo request finished jobs made by the real engine (``run_job``), so a
    newcomer's first page has files: the recurring request its last two slots up to ``until``,
    the one-time request its one job. A request that has jobs already is left alone."""
    wanted = {(users[username].pk, data["name"]) for username, data in demo_requests(until)}
    demo = ExportRequest.objects.filter(name__in={name for _, name in wanted}).order_by("pk")
    for export in demo:
        if (export.owner_id, export.name) not in wanted:
            continue
        if export.jobs.exists():
            continue
        if export.is_recurring:
            slots = [slot for _, slot in slots_between(export, export.period_start, until)][-2:]
        else:
            slots = [until]
        for slot in slots:
            job = run_job(create_job(export, slot).pk)
            when = format_time(slot, export.timezone)
            report.jobs.append((export.name, job.status_label, when, job.row_count))
