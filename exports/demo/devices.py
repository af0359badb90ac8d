"""The demo's users, channels, teams and devices, and the readings each device makes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

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
