"""Model fields of our own."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models.query_utils import DeferredAttribute
from timezone_field import TimeZoneField
from timezone_field.backends import TimeZoneNotFoundError


class ZoneNameField(TimeZoneField):
    """django-timezone-field's ``TimeZoneField`` whose Python value is the IANA name.

    The column, choices, validation against the zone database and admin widget are the
    package's. Only the in-memory value differs: the domain (schema dumps, writers, slots,
    filenames) passes zone *names* around and opens ``ZoneInfo(name)`` where it needs one, so
    the attribute stays the string that is stored ("Europe/Rome"), not a ``ZoneInfo``.
    A bad name is therefore a field error of ``full_clean()`` (like any other field), not an
    exception at assignment, and a stored name the zone database later dropped still loads.
    """

    descriptor_class = DeferredAttribute

    def from_db_value(self, value, *_args):
        return value

    def _get_python_and_db_repr(self, value):
        if value is None or value == "":
            return (None, "")
        name = str(value)  # a ZoneInfo's str() is its key
        try:
            self.tz_backend.to_tzobj(name)
        except TimeZoneNotFoundError as err:
            raise ValidationError(
                "%(value)r is not an IANA time zone (for example UTC, Europe/Rome).",
                code="invalid",
                params={"value": name},
            ) from err
        return (name, name)

    def validate(self, value, model_instance):
        # The package validates zone objects against zone-object choices.
        zone = self.tz_backend.to_tzobj(value) if value not in (None, "") else value
        super().validate(zone, model_instance)
