"""The request's own form: name, type, schedule (as a preset or ISO 8601) and format."""

from __future__ import annotations

from django import forms
from django.utils import timezone as dj_timezone
from timezone_field import TimeZoneFormField

from exports.editor.common import LocalDateTimeInput, explain_local_time, timezone_choices
from exports.models import ExportRequest
from exports.requests.vocabulary import RequestType
from exports.scheduling.presets import (
    CUSTOM,
    MINUTE_STEPS,
    PRESET_NEEDS,
    SCHEDULE_CHOICES,
    Preset,
    preset_from_fields,
    preset_of,
    schedule_initial,
)
from exports.scheduling.words import WEEKDAYS, describe_schedule

# The fields that describe a recurrence: ignored (and hidden) for a one-time export.
SCHEDULE_FIELDS = ("periodicity", "period_start", "schedule", "every", "at_minute", "at_time")
SCHEDULE_FIELDS += ("weekday", "day")


class ExportRequestForm(forms.ModelForm):
    timezone = TimeZoneFormField(
        label="Time zone",
        choices=timezone_choices(),
        help_text="Governs the schedule, the data windows and the times written in the file.",
    )
    # Schedule presets: another way to write periodicity + period start, stored as those.
    schedule = forms.ChoiceField(
        label="Repeat",
        choices=SCHEDULE_CHOICES,
        required=False,  # a post without it (older pages, scripts) is a custom schedule
    )
    every = forms.TypedChoiceField(
        label="Every",
        choices=[(step, f"{step} minute{'s' * (step != 1)}") for step in MINUTE_STEPS],
        coerce=int,
        required=False,
        help_text="On the clock's multiples: every 15 minutes runs at :00, :15, :30, :45.",
    )
    at_minute = forms.IntegerField(
        label="At minute", min_value=0, max_value=59, required=False, help_text="0–59."
    )
    at_time = forms.TimeField(
        label="At",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H:%M:%S"],
    )
    weekday = forms.TypedChoiceField(
        label="On", choices=list(enumerate(WEEKDAYS)), coerce=int, required=False
    )
    day = forms.IntegerField(
        label="On day",
        min_value=1,
        max_value=31,
        required=False,
        help_text="1–31; 29, 30 or 31 runs on the last day of shorter months.",
    )

    class Meta:
        model = ExportRequest
        fields = [
            "name",
            "type",
            "periodicity",
            "period_start",
            "paused",
            "extension",
            "timezone",
            "template",
            "csv_delimiter",
            "csv_bom",
            "decimals",
            "decimal_separator",
            "filename",
        ]
        labels = {
            "extension": "Format",
            "period_start": "Start of the recurrence",
            "csv_delimiter": "CSV delimiter",
            "csv_bom": "CSV with a byte order mark",
            "decimals": "Decimals",
            "decimal_separator": "Decimal separator",
            "filename": "File name",
        }
        help_texts = {
            "paused": "A paused export is not run until it is resumed.",
            "csv_delimiter": "One character, such as , or ; (CSV only).",
            "csv_bom": "Lets Excel read accents and units right; turn off for tools that "
            "do not expect it (CSV only).",
            "decimals": "Fixed decimals for every number, 0 to 10; empty writes numbers "
            "as they are.",
            "filename": "Base name of the downloaded file; empty uses the export's name.",
        }
        widgets = {
            "period_start": LocalDateTimeInput(),
            "csv_delimiter": forms.TextInput(attrs={"size": 2}),
            "decimals": forms.NumberInput(attrs={"min": 0, "max": 10}),
        }

    def __init__(self, *args, zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        # A tab or a space is a legitimate delimiter: do not strip it away.
        self.fields["csv_delimiter"].strip = False
        # The model's blank (a post without the field: the point) is no choice to offer.
        separator = self.fields["decimal_separator"]
        separator.choices = [choice for choice in separator.choices if choice[0]]
        current = self.instance.timezone
        if current and (current, current) not in timezone_choices():
            # A zone stored before this system's tz database dropped its name stays selectable.
            self.fields["timezone"].choices = [(current, current), *timezone_choices()]
        explain_local_time(self, ["period_start"], zone)
        self.zone = zone
        if not self.is_bound:
            self.initial.update(self._schedule_initial())

    def _schedule_initial(self) -> dict:
        """The stored schedule as the editor shows it: its preset, else custom."""
        return schedule_initial(self.instance)

    def clean(self) -> dict:
        cleaned = super().clean()
        if (
            cleaned.get("decimal_separator") == ","
            and cleaned.get("csv_delimiter") == ","
            and "csv_delimiter" not in self.changed_data
        ):
            cleaned["csv_delimiter"] = ";"  # a decimal comma's delimiter, unless one was typed
        if cleaned.get("type") != RequestType.RECURRING:
            # One-time: the schedule is hidden and ignored, whatever the browser posted.
            for name in SCHEDULE_FIELDS:
                self._errors.pop(name, None)
            cleaned["periodicity"] = ""
            cleaned.pop("period_start", None)
            return cleaned
        kind = cleaned.get("schedule") or CUSTOM
        if kind == CUSTOM:
            return cleaned
        preset = self._preset(kind, cleaned)
        if preset is None:
            return cleaned
        for name in ("periodicity", "period_start"):
            self._errors.pop(name, None)  # written by the preset, not typed
        zone = str(cleaned.get("timezone") or self.zone)
        cleaned["periodicity"] = preset.periodicity
        stored = self.instance
        if stored.pk and preset_of(stored.periodicity, stored.period_start, zone) == preset:
            # Unchanged: keep the stored anchor, so saving does not move the schedule.
            cleaned["period_start"] = stored.period_start
        else:
            cleaned["period_start"] = preset.period_start(zone, dj_timezone.now())
        return cleaned

    def _preset(self, kind: str, cleaned: dict) -> Preset | None:
        """The chosen preset, or None after adding an error to each missing field."""
        missing = [
            name
            for name in PRESET_NEEDS[kind]
            if cleaned.get(name) in (None, "") and name not in self.errors
        ]
        for name in missing:
            self.add_error(name, "Required for this schedule.")
        if missing or any(name in self.errors for name in PRESET_NEEDS[kind]):
            return None
        return preset_from_fields(kind, cleaned)

    def schedule_words(self) -> str:
        """The schedule in words ("Every day at 08:00 (Europe/Rome)"); "" when one-time or
        when the schedule fields have errors (errors elsewhere do not matter here)."""
        if not self.is_bound:
            request = self.instance
            if request.is_recurring and request.periodicity:
                return describe_schedule(
                    request.periodicity, request.period_start, request.timezone
                )
            return ""
        if not hasattr(self, "cleaned_data") or any(n in self.errors for n in SCHEDULE_FIELDS):
            return ""
        data = self.cleaned_data
        if data.get("type") != RequestType.RECURRING or not data.get("periodicity"):
            return ""
        start = data.get("period_start") or dj_timezone.now()
        return describe_schedule(data["periodicity"], start, str(data.get("timezone") or self.zone))
