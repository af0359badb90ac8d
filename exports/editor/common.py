"""What the editor's forms share: the time zone list, the local date-time picker, the
help text that says in which zone a typed time is read, and the child formsets' base.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence

from django import forms
from django.forms import BaseInlineFormSet

LOCAL_TIME_HELP = (
    "Local time in the export's time zone ({zone}); a new time zone chosen above "
    "applies when you save."
)


# Names the tz database holds that no one means as a place's time: "Factory" (a zone of
# no place, abbreviated "-00") and "localtime" (this server's own clock). The JSON API still
# accepts them (``validation.validate_timezone``); the editor does not offer them.
NOT_PLACES = frozenset({"Factory", "localtime"})


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this system knows that a user may mean, sorted, with UTC first."""
    names = sorted(zoneinfo.available_timezones() - NOT_PLACES - {"UTC"})
    return [(name, name) for name in ["UTC", *names]]


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-time picker; the value is naive, read in the request's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs={"step": 1, **(attrs or {})}, format="%Y-%m-%dT%H:%M:%S")


def explain_local_time(form: forms.ModelForm, names: Sequence[str], zone: str) -> None:
    for name in names:
        field = form.fields[name]
        field.help_text = " ".join(
            part for part in (field.help_text, LOCAL_TIME_HELP.format(zone=zone)) if part
        )


class ChildFormSet(BaseInlineFormSet):
    """A request's child rows: at most ``cap()`` of them (``exports.requests.caps``, read when
    the formset is built), refused with ``too_many()``'s words, the API's and the admin's."""

    remove_label = "Remove"
    cap = None  # a function returning the most rows, or None for the factory's max_num
    too_many = None  # a function returning the error when there are more

    def __init__(self, *args, **kwargs):
        if self.cap is not None:
            self.max_num = self.cap()
            self.absolute_max = self.max_num + 1000  # Django's margin over max_num
        super().__init__(*args, **kwargs)
        if self.too_many is not None:
            self.error_messages["too_many_forms"] = self.too_many()

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = self.remove_label
