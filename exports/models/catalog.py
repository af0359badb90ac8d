"""The series catalog: which series exist, kept up to date as messages are stored.

Pages, the preview and the API read these small tables instead of running ``DISTINCT`` over the
message table (hundreds of millions of rows in real use). ``exports.data.catalog`` maintains them.
"""

from django.db import models


def short_id(identifier: str) -> str:
    """The first 8 characters of an id (a UUID prefix is enough to tell devices apart)."""
    return identifier[:8] if len(identifier) > 12 else identifier


def display_name(name: str, identifier: str) -> str:
    """ "name (short id)" when a human name is known, else the id itself."""
    return f"{name} ({short_id(identifier)})" if name else identifier


class Channel(models.Model):
    """A channel id with an optional human name (edited in the admin)."""

    channel_id = models.CharField("channel id", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name", "channel_id"]

    def __str__(self) -> str:
        return display_name(self.name, self.channel_id)


class Publisher(models.Model):
    """A publisher (device, thing) id with an optional human name (edited in the admin)."""

    publisher_id = models.CharField("publisher id", max_length=255, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name", "publisher_id"]

    def __str__(self) -> str:
        return display_name(self.name, self.publisher_id)


class Series(models.Model):
    """One (channel, subtopic, publisher, name) in the messages: unit, count, first/last time."""

    channel = models.CharField(max_length=64)
    subtopic = models.CharField(max_length=255, blank=True, default="")
    publisher = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=64, blank=True, default="")
    count = models.BigIntegerField(default=0)
    first_time = models.DateTimeField()
    last_time = models.DateTimeField()

    class Meta:
        ordering = ["channel", "subtopic", "name", "publisher"]
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "subtopic", "publisher", "name"], name="series_once"
            ),
        ]
        indexes = [models.Index(fields=["name"], name="series_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel}/{self.subtopic}, {self.publisher})"
