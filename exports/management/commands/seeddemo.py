from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from exports.demo import CHANNELS, DEMO_USERS, DEVICES, METRICS, STEP, SUBTOPIC, seed

__all__ = ["DEMO_USERS", "Command"]


class Command(BaseCommand):
    help = (
        "Create demo data: users (an admin and two ordinary users), four devices on two "
        "channels with temperature, humidity and energy-meter readings every 5 minutes, and "
        "demo export requests for alice, each with finished jobs run by the real engine. "
        "Safe to run again: existing users, readings, requests and jobs are kept and nothing "
        "is duplicated. Usage: manage.py seeddemo [--days 8] [--until 2025-01-31T12:00Z]"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=8, help="Days of readings before --until (default 8)."
        )
        parser.add_argument(
            "--until",
            help="End of the readings, ISO 8601 with offset (default: the current hour, UTC).",
        )

    def handle(self, *args, days: int, until: str | None, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        end = _until(until)
        try:
            report = seed(until=end, days=days)
        except ValidationError as exc:
            raise CommandError(f"A demo password is rejected: {' '.join(exc.messages)}") from None

        self.stdout.write(self.style.MIGRATE_HEADING("Users (sign in at /accounts/login/)"))
        for username, password, is_admin, created in report.users:
            role = "admin" if is_admin else "user"
            state = "created" if created else "already existed; password left unchanged"
            self.stdout.write(f"  {username} / {password}  ({role}, {state})")

        self.stdout.write(self.style.MIGRATE_HEADING(f"Devices (subtopic {SUBTOPIC})"))
        channel_names = {channel: name for name, channel in CHANNELS.items()}
        for device in DEVICES:
            self.stdout.write(
                f"  {device.label}: publisher {device.publisher}, "
                f"channel {channel_names[device.channel]} {device.channel}"
            )
        metrics = ", ".join(f"{metric.name} ({metric.unit})" for metric in METRICS)
        minutes = int(STEP.total_seconds() // 60)
        self.stdout.write(
            f"  {metrics} every {minutes} minutes, "
            f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
        )
        self.stdout.write(f"  Stored {report.messages_created} new readings")

        self.stdout.write(self.style.MIGRATE_HEADING("Teams (who reads which channel)"))
        for team, members, channel in report.teams:
            self.stdout.write(f"  {team}: {', '.join(members)} read and publish to {channel}")
        self.stdout.write("  staff read every channel")

        self.stdout.write(self.style.MIGRATE_HEADING("Export requests"))
        for owner, name, created in report.requests:
            state = "created" if created else "already existed"
            self.stdout.write(f"  {name} (of {owner}, {state})")
        for name, status, when, rows in report.jobs:
            counted = f", {rows} rows" if rows is not None else ""
            self.stdout.write(f"  Ran “{name}” for {when}: {status}{counted}")


def _until(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CommandError("--until must be an ISO 8601 date-time with an offset, e.g. ...Z.")
    return parsed.astimezone(UTC)
