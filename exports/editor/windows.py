"""An item's window and decimation as pickers: presets in words, no ISO 8601 to type.

The pickers only write the item's own fields — ``period``, ``calendar_range``,
``from_time``/``to_time``, ``ds`` and ``dsf`` — which stay what the JSON, the API and the
admin hold. A stored value opens as the preset it matches, else as "another duration"
(``period`` typed, ISO 8601 such as ``P1D``). A post without the picker fields (a script,
an older page) keeps the item's fields as posted.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from exports.requests.validation import DS_UNITS, validate_ds
from exports.requests.vocabulary import Aggregation, CalendarRange
from exports.scheduling.words import duration_words

# The window presets: the ``period`` each writes.
WINDOW_PERIODS = {"PT1H": "The last hour", "PT24H": "The last 24 hours", "P7D": "The last 7 days"}
DEFAULT, CUSTOM, BETWEEN = "", "custom", "between"
DEFAULT_LABEL = "The scheduled period (one-time: all data so far)"
WINDOW_CHOICES = [
    (DEFAULT, DEFAULT_LABEL),
    *WINDOW_PERIODS.items(),
    *((value, label[:1].upper() + label[1:]) for value, label in CalendarRange.choices),
    (CUSTOM, "Another duration before each run…"),
    (BETWEEN, "Between two dates"),
]
PERIOD_HELP = "ISO 8601, such as P1D (a calendar day), PT6H (6 hours) or P1M (a month)."
# The fields each window choice uses (the others are cleared).
WINDOW_FIELDS = ("period", "calendar_range", "from_time", "to_time")

UNIT_WORDS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "M": "month",
    "y": "year",
}
assert set(UNIT_WORDS) == set(DS_UNITS)
FUNCTION_WORDS = {
    Aggregation.AVG: ("average", "averages"),
    Aggregation.MAX: ("maximum", "maxima"),
    Aggregation.MIN: ("minimum", "minima"),
    Aggregation.SUM: ("sum", "sums"),
    Aggregation.STDDEV: ("standard deviation", "standard deviations"),
    Aggregation.VARIANCE: ("variance", "variances"),
}


def window_choice(period: str, calendar_range: str, has_dates: bool) -> str:
    """The picker choice a stored window opens as."""
    if has_dates:
        return BETWEEN
    if calendar_range:
        return calendar_range
    if period:
        return period if period in WINDOW_PERIODS else CUSTOM
    return DEFAULT


def decimation_words(ds: str, dsf: str = "") -> str:
    """``15m`` + ``avg`` → "15-minute averages"; "" without decimation."""
    if not ds or ds[:-1] == "" or not ds[:-1].isdigit() or ds[-1] not in UNIT_WORDS:
        return ""
    count, unit = int(ds[:-1]), UNIT_WORDS[ds[-1]]
    function = FUNCTION_WORDS.get(dsf or Aggregation.AVG, (dsf, dsf))[1]
    return f"{count}-{unit} {function}"


def window_words(period: str, calendar_range: str, recurring: bool) -> str:
    """An item's relative window as the pickers name it ("The last 24 hours", "Yesterday",
    "The last 1 day and 6 hours"); "" for from/to dates (shown as dates)."""
    if calendar_range:
        label = CalendarRange(calendar_range).label
        return label[:1].upper() + label[1:]
    if period:
        words = WINDOW_PERIODS.get(period)
        return words or f"The last {duration_words(period) or period}"
    return "The scheduled period" if recurring else "All data up to the run"


class WindowPickers(forms.Form):
    """The picker fields an item form adds (mixed into ``ItemForm``)."""

    window = forms.ChoiceField(
        label="Window",
        choices=WINDOW_CHOICES,
        required=False,
        help_text="Which data each run exports; calendar ranges follow the export's time zone.",
    )
    ds_size = forms.IntegerField(
        label="Bucket size", min_value=1, required=False, widget=forms.NumberInput()
    )
    ds_unit = forms.ChoiceField(
        label="Decimation",
        choices=[("", "None (every point)")]
        + [(letter, f"{word}s") for letter, word in UNIT_WORDS.items()],
        required=False,
    )

    def setup_pickers(self) -> None:
        """Label the item's own fields for the pickers and give the pickers their initial."""
        self.fields["calendar_range"].widget = forms.HiddenInput()
        self.fields["ds"].widget = forms.HiddenInput()
        self.fields["period"].label = "Duration"
        self.fields["period"].help_text = PERIOD_HELP
        self.fields["dsf"].label = "Function"
        self.fields["dsf"].choices = [("", "average (default)"), *Aggregation.choices[1:]]
        if not self.is_bound:
            item = self.instance
            self.initial.setdefault(
                "window",
                window_choice(
                    self.initial.get("period") or item.period,
                    self.initial.get("calendar_range") or item.calendar_range,
                    bool(item.from_time or item.to_time),
                ),
            )
            ds = self.initial.get("ds") or item.ds
            if ds and ds[:-1].isdigit() and ds[-1] in UNIT_WORDS:
                self.initial.setdefault("ds_size", int(ds[:-1]))
                self.initial.setdefault("ds_unit", ds[-1])
        words = duration_words(self._value("period"))
        if words:
            self.fields["period"].help_text = f"{words}. {self.fields['period'].help_text}"
        words = decimation_words(self._value("ds"), self._value("dsf"))
        self.fields["ds_unit"].help_text = words

    def _value(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix(name)) or "").strip()
        return str(self.initial.get(name) or getattr(self.instance, name, "") or "")

    def clean_pickers(self, cleaned: dict) -> None:
        """Write the chosen window and decimation into the item's fields (when posted)."""
        if self.add_prefix("window") in self.data:
            self._clean_window(cleaned, cleaned.get("window") or DEFAULT)
        if self.add_prefix("ds_unit") in self.data:
            self._clean_decimation(cleaned)

    def _clear(self, cleaned: dict, keep: tuple[str, ...]) -> None:
        for name in WINDOW_FIELDS:
            if name not in keep:
                if self._errors:
                    self._errors.pop(name, None)  # a hidden field's leftovers do not count
                cleaned[name] = None if name.endswith("_time") else ""

    def _clean_window(self, cleaned: dict, choice: str) -> None:
        if choice in WINDOW_PERIODS:
            self._clear(cleaned, ())
            cleaned["period"] = choice
        elif choice in CalendarRange.values:
            self._clear(cleaned, ())
            cleaned["calendar_range"] = choice
        elif choice == CUSTOM:
            self._clear(cleaned, ("period",))
            if not cleaned.get("period") and "period" not in self.errors:
                self.add_error("period", "Enter a duration, such as P1D, PT6H or P1M.")
        elif choice == BETWEEN:
            self._clear(cleaned, ("from_time", "to_time"))
            given = cleaned.get("from_time") or cleaned.get("to_time")
            if not given and not {"from_time", "to_time"} & set(self.errors):
                self.add_error("from_time", "Enter a start, an end, or both.")
        else:
            self._clear(cleaned, ())

    def _clean_decimation(self, cleaned: dict) -> None:
        unit, size = cleaned.get("ds_unit") or "", cleaned.get("ds_size")
        self._errors.pop("ds", None)
        if not unit:
            cleaned["ds"] = cleaned["dsf"] = ""
            return
        if size is None:
            if "ds_size" not in self.errors:
                self.add_error("ds_size", "Enter how many units each bucket spans.")
            cleaned["ds"] = ""
            return
        try:
            validate_ds(f"{size}{unit}")
        except ValidationError as exc:
            self.add_error("ds_size", exc)
            cleaned["ds"] = ""
            return
        cleaned["ds"] = f"{size}{unit}"
