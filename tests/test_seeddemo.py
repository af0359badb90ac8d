"""manage.py seeddemo: demo users, devices, a week of readings and requests; safe to rerun."""

import io
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min

from exports.demo import CHANNELS, DEMO_USERS, DEVICES, SUBTOPIC
from exports.models import (
    ChannelGrant,
    ExportItem,
    ExportJob,
    ExportRequest,
    IamEvent,
    JobStatus,
    Message,
)

pytestmark = pytest.mark.django_db

UNTIL = datetime(2025, 3, 30, 12, 0, tzinfo=UTC)  # Rome moves its clocks this morning
PER_DAY = 24 * 12  # one reading every 5 minutes


def seeddemo(**options) -> str:
    out = io.StringIO()
    call_command("seeddemo", until=UNTIL.isoformat(), stdout=out, **options)
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "messages": Message.objects.count(),
        "requests": ExportRequest.objects.count(),
        "items": ExportItem.objects.count(),
        "events": IamEvent.objects.count(),
    }


def test_the_demo_passwords_pass_the_password_validators():
    for username, password, _ in DEMO_USERS:
        validate_password(password, get_user_model()(username=username))


def test_it_creates_an_admin_two_users_and_prints_their_credentials():
    output = seeddemo(days=1)

    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"admin", "alice", "bob"}
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["alice"].is_staff and not users["bob"].is_superuser
    for username, password, _ in DEMO_USERS:
        assert users[username].check_password(password)
        assert f"{username} / {password}" in output


def test_it_creates_eight_days_of_readings_for_four_devices_on_two_channels():
    output = seeddemo()

    assert {d.publisher for d in DEVICES} == set(
        Message.objects.values_list("publisher", flat=True).distinct()
    )
    assert set(Message.objects.values_list("channel", flat=True).distinct()) == set(
        CHANNELS.values()
    )
    series = Message.objects.values("publisher", "name", "unit").annotate(
        n=Count("id"), first=Min("time"), last=Max("time")
    )
    assert len(series) == 4 * 3
    for row in series:
        assert row["n"] == 8 * PER_DAY
        assert row["first"] == UNTIL - timedelta(days=8)
        assert row["last"] == UNTIL - timedelta(minutes=5)
    assert {(row["name"], row["unit"]) for row in series} == {
        ("temperature", "Cel"),
        ("humidity", "%RH"),
        ("energy", "kWh"),
    }
    assert set(Message.objects.values_list("subtopic", flat=True).distinct()) == {SUBTOPIC}
    assert f"Stored {4 * 3 * 8 * PER_DAY} new readings" in output


def test_the_energy_counter_only_increases_for_every_publisher():
    seeddemo(days=2)
    for device in DEVICES:
        values = list(
            Message.objects.filter(publisher=device.publisher, name="energy")
            .order_by("time")
            .values_list("value", flat=True)
        )
        assert len(values) == 2 * PER_DAY
        assert all(later > earlier for earlier, later in pairwise(values))


def test_readings_look_like_their_devices():
    seeddemo(days=2)
    by_label = {d.label: d.publisher for d in DEVICES}

    def bounds(label, name):
        rows = Message.objects.filter(publisher=by_label[label], name=name)
        return rows.aggregate(low=Min("value"), high=Max("value")).values()

    low, high = bounds("Greenhouse north", "temperature")
    assert 14 < low < high < 30 and high - low > 5  # a day-night swing
    low, high = bounds("Freezer 2", "temperature")
    assert -22 < low < high < -14
    low, high = bounds("Cold room 1", "humidity")
    assert 5 <= low < high <= 100


def test_running_it_twice_changes_nothing():
    seeddemo(days=2)
    before = snapshot()

    output = seeddemo(days=2)

    assert snapshot() == before
    assert "Stored 0 new readings" in output
    assert "already existed" in output


def test_a_later_run_adds_only_the_new_readings_and_the_counter_continues():
    seeddemo(days=1)
    out = io.StringIO()
    call_command("seeddemo", days=1, until=(UNTIL + timedelta(hours=1)).isoformat(), stdout=out)

    assert "Stored 144 new readings" in out.getvalue()  # 12 series x 12 readings
    duplicates = (
        Message.objects.values("publisher", "name", "time").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicates.exists()
    for device in DEVICES:
        values = list(
            Message.objects.filter(publisher=device.publisher, name="energy")
            .order_by("time")
            .values_list("value", flat=True)
        )
        assert len(values) == PER_DAY + 12
        assert all(later > earlier for earlier, later in pairwise(values))


def test_it_gives_the_same_readings_every_time():
    seeddemo(days=1)
    first = list(Message.objects.order_by("publisher", "name", "time").values_list("value"))
    Message.objects.all().delete()
    seeddemo(days=1)
    assert list(Message.objects.order_by("publisher", "name", "time").values_list("value")) == (
        first
    )


def test_it_leaves_an_existing_user_alone(alice):
    output = seeddemo(days=1)
    alice.refresh_from_db()
    assert alice.check_password("alice-pass-123")
    assert "alice / exporter-demo-alice  (user, already existed; password left unchanged)" in (
        output
    )


def test_it_creates_demo_export_requests_for_alice_with_one_event_each(
    redis_conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        seeddemo(days=1)

    requests = {r.name: r for r in ExportRequest.objects.all()}
    daily = requests["Greenhouse climate, daily"]
    assert daily.owner.username == "alice"
    assert (daily.type, daily.periodicity, daily.extension) == ("recurring", "P1D", "csv")
    assert daily.timezone == "Europe/Rome"
    # Rome's midnight two days back: the last two midnights are past slots the seed ran.
    assert daily.period_start == datetime(2025, 3, 27, 23, 0, tzinfo=UTC)
    assert [(c.column_id, c.label) for c in daily.columns.all()][:3] == [
        ("time", "Time (Europe/Rome)"),
        ("publisherName", "Device"),
        ("channelName", "Channel"),
    ]
    energy = requests["Energy use, last week"]
    assert (energy.type, energy.extension, energy.owner.username) == ("oneTime", "xlsx", "alice")
    assert energy.items.get().channel_id == CHANNELS["greenhouse"]
    cold = requests["Cold storage energy, last week"]
    assert cold.owner.username == "bob" and cold.items.get().channel_id == CHANNELS["cold-storage"]

    events = IamEvent.objects.filter(action="exporter:exports:create")
    assert sorted(e.resource for e in events) == sorted(
        f"exporter:exports:{r.pk}" for r in requests.values()
    )
    assert {e.actor_name for e in events} == {"alice", "bob"}


def test_it_rejects_bad_options():
    with pytest.raises(CommandError, match="--days must be at least 1"):
        seeddemo(days=0)
    with pytest.raises(CommandError, match="--until must be an ISO 8601 date-time with an offset"):
        call_command("seeddemo", until="2025-03-30T12:00", stdout=io.StringIO())
    assert Message.objects.count() == 0


def test_it_leaves_each_demo_request_with_files_made_by_the_real_engine(redis_conn):
    output = seeddemo(days=3)

    daily = ExportRequest.objects.get(name="Greenhouse climate, daily")
    energy = ExportRequest.objects.get(name="Energy use, last week")
    # The last two local midnights in Rome before UNTIL: 2025-03-29 and 2025-03-30 00:00 CET.
    assert [job.slot for job in daily.jobs.order_by("slot")] == [
        datetime(2025, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2025, 3, 29, 23, 0, tzinfo=UTC),
    ]
    cold = ExportRequest.objects.get(name="Cold storage energy, last week")
    jobs = [*daily.jobs.all(), *energy.jobs.all(), *cold.jobs.all()]
    assert len(jobs) == 4
    for job in jobs:
        assert job.status == JobStatus.DONE and job.is_downloadable
        assert job.row_count > 0
    # 2 greenhouse devices x 2 metrics x 96 quarter hours in one day
    assert {job.row_count for job in daily.jobs.all()} == {2 * 2 * 96}
    with daily.jobs.first().file.open("rb") as file:
        header = file.readline().decode("utf-8-sig")  # CSV starts with a BOM
        first = file.readline().decode()
    assert header.startswith("Time (Europe/Rome);Device;Channel;Metric;Reading;Unit")
    assert first.split(";")[1:3] == ["Greenhouse north", "Greenhouse"]  # names, not ids
    assert energy.jobs.get().file.name.endswith(".xlsx")
    assert "Ran “Greenhouse climate, daily” for 2025-03-30 00:00 CET: Done, 384 rows" in output
    assert "Ran “Energy use, last week” for 2025-03-30 12:00 UTC: Done" in output


def test_running_the_seed_again_runs_no_job_twice(redis_conn):
    seeddemo(days=2)
    jobs = list(ExportJob.objects.order_by("pk").values_list("pk", "status", "file"))
    output = seeddemo(days=2)
    assert list(ExportJob.objects.order_by("pk").values_list("pk", "status", "file")) == jobs
    assert "Ran " not in output


def test_it_creates_two_teams_each_reading_its_own_channel(settings):
    from exports.data.access import can_publish, can_read

    settings.EXPORTS_DATA_ACCESS = "grants"
    output = seeddemo(days=1)
    users = {u.username: u for u in get_user_model().objects.all()}
    green, cold = CHANNELS["greenhouse"], CHANNELS["cold-storage"]
    assert green[:8] != cold[:8], "the pages tell the channels apart by their first 8 characters"
    assert can_read(users["alice"], green, SUBTOPIC) and can_publish(users["alice"], green)
    assert not can_read(users["alice"], cold, SUBTOPIC)
    assert can_read(users["bob"], cold, SUBTOPIC) and not can_read(users["bob"], green, SUBTOPIC)
    assert can_read(users["admin"], green) and can_read(users["admin"], cold)
    assert "greenhouse: alice read and publish to Greenhouse" in output
    assert "cold-chain: bob read and publish to Cold storage" in output
    seeddemo(days=1)
    assert ChannelGrant.objects.count() == 2
