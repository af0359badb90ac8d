"""The names of the domain (DESIGN.md §1), shared by models, validation, forms and writers."""

from django.db import models


class RequestType(models.TextChoices):
    ONE_TIME = "oneTime", "One time"
    RECURRING = "recurring", "Recurring"


class Extension(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"
    JSON = "json", "JSON"
    PARQUET = "parquet", "Parquet"


# Accepted on input, normalised on the way in.
EXTENSION_ALIASES = {"xls": Extension.XLSX}


class Template(models.TextChoices):
    TABULAR = "tabular", "Tabular (one table for all items)"
    EXPANDED = "expanded", "Expanded (one table, sheet or file per item)"


class ColumnId(models.TextChoices):
    PUBLISHER = "publisher", "publisher"
    CHANNEL = "channel", "channel"
    # The catalog's names (the id where none is set): what people read; the two above are
    # the ids (the platform's JSON shape).
    PUBLISHER_NAME = "publisherName", "publisher name"
    CHANNEL_NAME = "channelName", "channel name"
    SUBTOPIC = "subtopic", "subtopic"
    NAME = "name", "name"
    UNIT = "unit", "unit"
    TIME = "time", "time"
    # One clock for tools: the instant in UTC as ISO 8601 with "Z", and as whole milliseconds
    # since the Unix epoch.
    TIME_UTC = "timeUtc", "time in UTC"
    EPOCH = "epoch", "epoch milliseconds"
    VALUE = "value", "value"
    CREATED = "created", "created"


# The reference platform's default column set, in its order.
DEFAULT_COLUMNS = ("publisher", "channel", "name", "time", "value", "created")
# What a new request made in the editor starts with: names people read instead of ids.
EDITOR_COLUMNS = (
    ("publisherName", "Device"),
    ("channelName", "Channel"),
    ("name", "name"),
    ("time", "time"),
    ("value", "value"),
    ("created", "created"),
)


class DecimalSeparator(models.TextChoices):
    """``format.decimalSeparator``: of numbers written as text (CSV, PDF); with a comma the
    CSV delimiter defaults to ``;``."""

    POINT = ".", "point (12.5)"
    COMMA = ",", "comma (12,5)"


class Aggregation(models.TextChoices):
    AVG = "avg", "average"
    MAX = "max", "maximum"
    MIN = "min", "minimum"
    SUM = "sum", "sum"
    STDDEV = "stddev", "standard deviation"
    VARIANCE = "variance", "variance"


class Transform(models.TextChoices):
    DELTA = "delta", "delta (difference to previous point)"


class OutputFormat(models.TextChoices):
    LONG = "long", "long (one row per point)"
    WIDE = "wide", "wide (one row per timestamp, one column per target)"


class CalendarRange(models.TextChoices):
    """An item's window as a calendar range in the request's zone (``exports.requests.ranges``)."""

    TODAY = "today", "today so far"
    YESTERDAY = "yesterday", "yesterday"
    WEEK_TO_DATE = "weekToDate", "this week so far (from Monday)"
    PREVIOUS_WEEK = "previousWeek", "the previous week (Monday to Sunday)"
    MONTH_TO_DATE = "monthToDate", "this month so far"
    PREVIOUS_MONTH = "previousMonth", "the previous month"
    YEAR_TO_DATE = "yearToDate", "this year so far"
    PREVIOUS_YEAR = "previousYear", "the previous year"


class Policy(models.TextChoices):
    ON_SUCCESS = "onSuccess", "on success"
    ON_FAILURE = "onFailure", "on failure"


class Medium(models.TextChoices):
    EMAIL = "email", "email"
    SLACK = "slack", "Slack"
    TELEGRAM = "telegram", "Telegram"
    DISCORD = "discord", "Discord"


MAX_DECIMALS = 10  # format.decimals: 0..10 fixed decimals for every numeric value


class EmptyReason(models.TextChoices):
    """Why a finished job wrote no rows (blank when it wrote some)."""

    NO_DATA = "noData", "no data for the metrics in the window"
    NO_METRICS = "noMetrics", "none of the metrics exist"
