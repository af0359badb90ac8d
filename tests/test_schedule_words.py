"""Schedules in words (the editor's presets are tested in test_schedule_presets.py)."""

from datetime import UTC, datetime

import pytest

from exports.scheduling.words import describe_schedule

ROME = "Europe/Rome"


def local(text, tz=ROME):
    import zoneinfo

    return datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(tz))


@pytest.mark.parametrize(
    ("periodicity", "start", "tz", "words"),
    [
        ("P1D", "2026-03-01 08:00", ROME, "Every day at 08:00 (Europe/Rome)"),
        ("P3D", "2026-03-01 08:00", ROME, "Every 3 days at 08:00 (Europe/Rome)"),
        ("PT15M", "2026-03-01 00:00", ROME, "Every 15 minutes"),
        ("PT1M", "2026-03-01 00:00", ROME, "Every minute"),
        ("PT15M", "2026-03-01 00:07", ROME, "Every 15 minutes from 00:07:00 (Europe/Rome)"),
        ("PT1H", "2026-03-01 00:20", "UTC", "Every hour at :20"),
        ("PT6H", "2026-03-01 02:00", ROME, "Every 6 hours from 02:00 (Europe/Rome)"),
        ("P1W", "2026-11-30 07:30", ROME, "Every week on Monday at 07:30 (Europe/Rome)"),
        ("P2W", "2026-12-04 18:00", ROME, "Every 2 weeks on Friday at 18:00 (Europe/Rome)"),
        ("P1M", "2026-01-15 06:00", ROME, "Monthly on day 15 at 06:00 (Europe/Rome)"),
        (
            "P1M",
            "2026-01-31 00:00",
            "UTC",
            "Monthly on day 31 at 00:00, the last day in shorter months (UTC)",
        ),
        ("P3M", "2026-01-01 00:00", ROME, "Every 3 months on day 1 at 00:00 (Europe/Rome)"),
        ("P1Y", "2026-03-05 08:00", ROME, "Every year on 5 March at 08:00 (Europe/Rome)"),
        ("PT30S", "2026-03-01 00:00", ROME, "Every 30 seconds"),
        (
            "P1DT12H",
            "2026-03-01 08:00",
            ROME,
            "Every 1 day and 12 hours, from 2026-03-01 08:00 (Europe/Rome)",
        ),
        (
            "P1M2D",
            "2026-03-01 08:00",
            "Asia/Kolkata",
            "Every 1 month and 2 days, from 2026-03-01 08:00 (Asia/Kolkata)",
        ),
    ],
)
def test_a_schedule_reads_in_words_in_its_time_zone(periodicity, start, tz, words):
    assert describe_schedule(periodicity, local(start, tz), tz) == words


def test_words_use_the_local_clock_across_dst():
    # 08:00 in Rome is 07:00 UTC in winter, 06:00 UTC in summer: the words stay 08:00.
    winter = datetime(2026, 1, 10, 7, tzinfo=UTC)
    summer = datetime(2026, 7, 10, 6, tzinfo=UTC)
    assert describe_schedule("P1D", winter, ROME) == describe_schedule("P1D", summer, ROME)
    assert describe_schedule("P1D", summer, ROME) == "Every day at 08:00 (Europe/Rome)"
