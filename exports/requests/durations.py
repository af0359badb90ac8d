"""ISO 8601 durations: the one type, its bounds and its arithmetic in a time zone.

Every duration the product reads — a request's ``periodicity``, an item's ``period``, the
retention, link and token lifetimes, the prune interval — is parsed here into a
:class:`Duration`, and every instant moved by one goes through :meth:`Duration.shift`. So a
slot, the window that ends at it and the next slot always agree.

A duration has two parts, added in this order:

* The **calendar part** — years and months (as months) and whole days (weeks are 7 days) — moves
  the *local wall time* in the governing time zone, ``k`` periods in one step (never by repeated
  addition). Months clamp to the end of shorter months (31 January + P1M is 28/29 February,
  + 2 × P1M is 31 March); P1D from a local midnight stays at local midnight across DST.
* The wall time is placed in the zone with ``fold=0`` (PEP 495): a time the spring-forward gap
  skips moves forward by the gap (02:30 on a Rome spring-forward day is 03:30 CEST), a time
  the autumn repeats is its first occurrence (02:30 CEST, not 02:30 CET).
* The **exact part** — hours, minutes, seconds *and the fraction of a day or week* — is then
  added as elapsed time. PT24H is 24 real hours even on a 23- or 25-hour day, while P1D is one
  calendar day; this is the rule of RFC 5545 and of JavaScript's Temporal.

A fractional day is therefore a whole number of calendar days plus elapsed time:
**P1.5D is P1DT12H** (one calendar day, then 12 hours) — 35 hours across a spring-forward
night and 37 across an autumn one, never a fixed 36. The value decides, not the spelling:
P2.0D is two calendar days like P2D, and the alternative form P0001-02-03T04:00:00 is 14
months, 3 calendar days and 4 hours. Years and months must be whole ("half a month" has no
calendar meaning), and every duration is positive and at most ``MAX_DURATION_TEXT``, so slot,
window and bucket arithmetic stays far inside the years a ``datetime`` can hold.

isodate cannot keep the calendar/exact split (it reads PT24H as one day), so the designator
form is parsed here; isodate only reads the rarely used alternative form.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

import isodate
from django.core.exceptions import ValidationError

# The longest duration (periodicity, item period, decimation, retention): a century keeps
# "slot + 5 × periodicity" and "slot − period" within datetime's years 1–9999 for every
# period start allowed (see ``validation.INSTANT_MIN``), with centuries to spare.
MAX_DURATION_TEXT = "P100Y"
# Nominal lengths, only to compare durations with each other and to guess how many fit in
# an interval (a month is 1/12 of an average Gregorian year); arithmetic counts real months.
NOMINAL_YEAR = timedelta(days=365.2425)
NOMINAL_MONTH = NOMINAL_YEAR / 12
MAX_DURATION = 100 * NOMINAL_YEAR
_DAY = timedelta(days=1)

# The designator form (P1Y2M3W4DT5H6M7S) with a fraction allowed anywhere, so that a
# fractional month can be named as the problem instead of being misread.
_NUMBER = r"\d+(?:[.,]\d+)?"
_DESIGNATORS = re.compile(
    rf"^P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?=\d)(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER})S)?)?$"
)
_SECONDS_PER = {
    "years": Decimal(NOMINAL_YEAR.total_seconds()),
    "months": Decimal(NOMINAL_MONTH.total_seconds()),
    "weeks": Decimal(7 * 86400),
    "days": Decimal(86400),
    "hours": Decimal(3600),
    "minutes": Decimal(60),
    "seconds": Decimal(1),
}


@dataclass(frozen=True)
class Duration:
    """A positive ISO 8601 duration: a calendar part (``months``, ``days``) and an ``exact`` one.

    See the module rules. Build one with :meth:`parse`; move instants with :meth:`shift`,
    :meth:`after` and :meth:`before`.
    """

    months: int = 0
    days: int = 0
    exact: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse a duration such as ``P1D``, ``PT15M``, ``P1M``, ``P1.5D``, ``P1Y6M4DT12H30M5S``.

        Raises ``ValidationError`` naming the problem: not a duration, fractional years or
        months, not longer than zero, or longer than ``MAX_DURATION_TEXT``. Text a database
        cannot hold is refused earlier, by ``validation.parse_duration``.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("Enter an ISO 8601 duration such as P1D, PT15M or P1M.")
        return _parse(text.strip())

    @property
    def is_calendar(self) -> bool:
        """True when the duration has a calendar part (computed on local wall time)."""
        return bool(self.months or self.days)

    @property
    def nominal(self) -> timedelta:
        """A typical length (a month is 1/12 of an average year): to compare durations and to
        guess how many fit in an interval, never to move an instant."""
        return self.months * NOMINAL_MONTH + self.days * _DAY + self.exact

    def shift(self, instant: datetime, tz: tzinfo = UTC, times: int = 1) -> datetime:
        """``instant + times × self``, the calendar part counted in ``tz`` (``times`` may be
        negative or zero).

        Returns an aware UTC datetime. Raises ``OverflowError``/``ValueError`` when the result
        falls outside the years a ``datetime`` can represent.
        """
        result = instant.astimezone(UTC)
        if times == 0:
            return result
        if self.is_calendar:
            # An instant with only an exact part never goes through wall time, so one inside
            # the repeated autumn hour keeps its offset.
            wall = instant.astimezone(tz).replace(tzinfo=None)
            wall = add_months(wall, self.months * times) + timedelta(days=self.days * times)
            result = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        return result + self.exact * times

    def after(self, instant: datetime, tz: tzinfo = UTC) -> datetime:
        """The UTC instant one duration after ``instant`` (see :meth:`shift`)."""
        return self.shift(instant, tz, 1)

    def before(self, instant: datetime, tz: tzinfo = UTC) -> datetime:
        """The UTC instant one duration before ``instant`` (see :meth:`shift`)."""
        return self.shift(instant, tz, -1)


def add_months(wall: datetime, months: int) -> datetime:
    """Calendar month arithmetic on a naive wall time, clamping to the month's last day."""
    year, month_index = divmod(wall.month - 1 + months, 12)
    year += wall.year
    day = min(wall.day, calendar.monthrange(year, month_index + 1)[1])
    return wall.replace(year=year, month=month_index + 1, day=day)


def shown(text: str) -> str:
    """The value as quoted in a message: long input is cut, the message stays readable."""
    return text if len(text) <= 40 else f"{text[:40]}…"


# A scheduler tick parses the same few durations thousands of times; results are immutable,
# and failures (exceptions) are not cached.
@functools.lru_cache(maxsize=512)
def _parse(text: str) -> Duration:
    not_a_duration = ValidationError(
        "%(value)r is not an ISO 8601 duration (examples: P1D, PT15M, P1M, P1Y6M).",
        params={"value": shown(text)},
        code="invalid",
    )
    match = _DESIGNATORS.match(text)
    parts = None
    if match is not None:
        if not any(match.groupdict().values()):
            raise not_a_duration  # "P" or "PT" alone
        parts = {name: _decimal(value) for name, value in match.groupdict().items()}
        _check_parts(parts, text)
    try:
        parsed = isodate.parse_duration(text)  # also what every accepted text must satisfy
    except (isodate.ISO8601Error, ValueError, TypeError, OverflowError, InvalidOperation):
        raise not_a_duration from None
    if parts is not None:
        return _from_parts(parts)
    _check_isodate(parsed, text)  # the alternative form (P0001-02-03T04:05:06) or a sign
    return _from_isodate(parsed)


def _decimal(text: str | None) -> Decimal:
    return Decimal(text.replace(",", ".")) if text else Decimal(0)


def _from_parts(parts: dict[str, Decimal]) -> Duration:
    # Whole weeks and days are calendar days; a fraction of a day is elapsed time.
    day_total = parts["weeks"] * 7 + parts["days"]
    whole_days = int(day_total)
    seconds = (
        (day_total - whole_days) * 86400
        + parts["hours"] * 3600
        + parts["minutes"] * 60
        + parts["seconds"]
    )
    return Duration(
        months=int(parts["years"]) * 12 + int(parts["months"]),
        days=whole_days,
        exact=timedelta(microseconds=int(seconds * 1_000_000)),
    )


def _from_isodate(parsed: timedelta | isodate.Duration) -> Duration:
    months = 0
    if isinstance(parsed, isodate.Duration):
        months = int(parsed.years) * 12 + int(parsed.months)
        parsed = parsed.tdelta
    return Duration(months, parsed.days, parsed - timedelta(parsed.days))


def _check_parts(parts: dict[str, Decimal], text: str) -> None:
    if parts["years"] != int(parts["years"]) or parts["months"] != int(parts["months"]):
        raise ValidationError(
            "%(value)r has a fractional number of years or months, which is not allowed: a "
            "month has no fixed length. Use whole months (P1M) or days (P45D).",
            params={"value": shown(text)},
            code="fractional_months",
        )
    seconds = sum(parts[name] * _SECONDS_PER[name] for name in _SECONDS_PER)
    _check_length(seconds, text)


def _check_isodate(parsed: timedelta | isodate.Duration, text: str) -> None:
    if isinstance(parsed, isodate.Duration) and (
        parsed.years != int(parsed.years) or parsed.months != int(parsed.months)
    ):
        raise ValidationError(
            "%(value)r has a fractional number of years or months, which is not allowed.",
            params={"value": shown(text)},
            code="fractional_months",
        )
    try:
        length = parsed
        if isinstance(parsed, isodate.Duration):
            years, months = float(parsed.years), float(parsed.months)
            length = years * NOMINAL_YEAR + months * NOMINAL_MONTH + parsed.tdelta
        seconds = Decimal(length.total_seconds())
    except OverflowError:
        seconds = Decimal(MAX_DURATION.total_seconds()) + 1
    _check_length(seconds, text)


def _check_length(seconds: Decimal, text: str) -> None:
    if seconds <= 0:
        raise ValidationError(
            "%(value)r must be longer than zero.",
            params={"value": shown(text)},
            code="not_positive",
        )
    if seconds > Decimal(MAX_DURATION.total_seconds()):
        raise ValidationError(
            "%(value)r is longer than %(max)s (100 years), the longest duration allowed.",
            params={"value": shown(text), "max": MAX_DURATION_TEXT},
            code="too_long",
        )
