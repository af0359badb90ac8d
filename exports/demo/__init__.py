"""Demo data for a fresh install: users, devices on two channels, readings and export requests.

Everything is deterministic (seeded randomness, fixed ids) and idempotent: users and
requests are looked up by name, and each series (publisher, metric) continues after its
last stored reading, so running the seed again adds nothing (or only the newer readings).
Each demo request is given finished jobs by the real engine, once, so a first start has
files to download.
``manage.py seeddemo`` is the front end. ``devices`` holds the users, channels, teams and
devices with their readings; ``requests`` the demo export requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from exports.data.ingestion import store_messages
from exports.demo.devices import (
    CHANNEL_NAMES,
    CHANNELS,
    DEMO_USERS,
    DEVICES,
    METRICS,
    STEP,
    SUBTOPIC,
    TEAMS,
    Device,
    Metric,
    readings,
)
from exports.demo.requests import demo_requests
from exports.iam import acting_as
from exports.models import Channel, ExportRequest, Message, Publisher
from exports.queue.runner import create_job, run_job
from exports.requests.display import format_time
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec
from exports.scheduling.slots import slots_between


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


__all__ = [
    "CHANNEL_NAMES",
    "CHANNELS",
    "DEMO_USERS",
    "DEVICES",
    "METRICS",
    "STEP",
    "SUBTOPIC",
    "TEAMS",
    "Device",
    "Metric",
    "SeedReport",
    "demo_requests",
    "readings",
    "seed",
]
