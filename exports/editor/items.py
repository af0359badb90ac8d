"""The item rows of the editor: an item's form with its catalog pickers, and their formset."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from exports.data import catalog, pickers
from exports.data.access import NOTHING, ReadScope, read_refusal
from exports.editor.common import ChildFormSet, LocalDateTimeInput, explain_local_time
from exports.editor.windows import WindowPickers
from exports.models import ExportItem, ExportRequest
from exports.models.catalog import display_name
from exports.requests import caps
from exports.requests.validation import storable_text_error

# The editable fields of an item, in form order (the pages and the admin inline).
ITEM_FIELDS = (
    "target_value",
    "target_label",
    "channel_id",
    "subtopic",
    "publisher",
    "from_time",
    "to_time",
    "period",
    "calendar_range",
    "ds",
    "dsf",
    "transform",
    "output_format",
    "filename",
)


class MetricsPicker(forms.MultipleChoiceField):
    """Metrics to add from the catalog.

    Any name is accepted: the list on the page may have been narrower or wider than the one
    this request computes, and names are checked as metrics once merged into ``target_value``.
    """

    widget = forms.SelectMultiple(attrs={"size": 6, "data-picker": "name"})

    def valid_value(self, value: str) -> bool:
        return True


@dataclass
class PickerList:
    """The options of one picker, served as a ``<datalist>`` next to its input."""

    id: str
    options: list[pickers.Option]


# Item inputs chosen from the catalog, and the picker field each one is.
PICKED = {"channel_id": "channel", "subtopic": "subtopic", "publisher": "publisher"}


class ItemForm(WindowPickers, forms.ModelForm):
    metrics = MetricsPicker(
        label="Add metrics from the catalog",
        required=False,
        help_text="Narrowed by the channel, subtopic and publisher above. Names that have no "
        "data yet can be typed in the metrics field.",
    )
    # Pick where the data is first, then which metrics; the rest keeps the model's order.
    field_order = ["channel_id", "subtopic", "publisher", "metrics", "target_value"]
    field_order += ["target_label", "window", "period", "from_time", "to_time"]
    field_order += ["ds_unit", "ds_size", "dsf"]

    class Meta:
        model = ExportItem
        fields = list(ITEM_FIELDS)
        labels = {"filename": "File name (expanded template)"}
        widgets = {"from_time": LocalDateTimeInput(), "to_time": LocalDateTimeInput()}

    def __init__(
        self,
        *args,
        zone: str = "UTC",
        options_cache: dict | None = None,
        owner=None,
        scope: ReadScope = NOTHING,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.owner, self.scope = owner, scope
        explain_local_time(self, ["from_time", "to_time"], zone)
        self.setup_pickers()
        # Rows of one page share their lookups (items often read the same channel).
        self._cache = {} if options_cache is None else options_cache
        # Picked metrics may be the only ones: "at least one" is checked in clean().
        self.fields["target_value"].required = False
        # The blank choice in words, like the decimation's "None (every point)", not "---------".
        self.fields["transform"].choices = [("", "None (the values as stored)")] + [
            choice for choice in self.fields["transform"].choices if choice[0]
        ]
        chosen = {key: self._current(name) for name, key in PICKED.items()}
        # A name typed for a channel or publisher narrows (and saves) as the id it names.
        for key in ("channel", "publisher"):
            typed = chosen[key]
            chosen[key] = typed and self._cached(
                ("resolve", key, typed),
                lambda key=key, typed=typed: pickers.resolve_name(key, typed, scope=scope),
            )
        self.pickers = []
        for name, key in PICKED.items():
            list_id = f"{self.prefix}-{key}-options"
            self.fields[name].widget.attrs.update(
                {"list": list_id, "autocomplete": "off", "data-picker": key}
            )
            self.pickers.append(PickerList(list_id, self._options(key, **chosen)))
        # Under an id, the name people know it by (the input holds the id that is stored);
        # the script shows that name in the field instead, and the id under it.
        for name, names in (
            ("channel_id", catalog.channel_names),
            ("publisher", catalog.publisher_names),
        ):
            value = chosen[PICKED[name]]
            known = value and self._cached(
                (name, value), lambda names=names, value=value: names([value]).get(value, "")
            )
            if known:
                self.fields[name].help_text = display_name(known, value)
                self.fields[name].widget.attrs.update({"data-id": value, "data-name": known})
            else:
                self.fields[name].help_text = "Choose from the list, or type a name or an id."
        self.fields["metrics"].choices = [
            (option.value, f"{option.label} — {option.detail}")
            for option in self._options("name", tz_name=zone, **chosen)
        ]

    def _cached(self, key: tuple, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _options(self, field: str, **narrowed: str) -> list[pickers.Option]:
        key = ("options", field, *sorted(narrowed.items()))
        return self._cached(key, lambda: pickers.options(field, scope=self.scope, **narrowed))

    def _current(self, name: str) -> str:
        """What the field holds now (posted, else initial), read without creating its
        BoundField: that would freeze its help text before __init__ sets it."""
        if self.is_bound:
            value = self.data.get(self.add_prefix(name))
        else:
            value = self.get_initial_for_field(self.fields[name], name)
        value = str(value or "").strip()
        # Text no database holds must not reach a catalog lookup (PostgreSQL fails on a NUL);
        # the field itself reports it when the form is validated.
        return "" if storable_text_error(value) else value

    def _resolved(self, name: str) -> str:
        # A channel or publisher typed by its name (the field shows names once picked) stores
        # its id; text no database holds is left for the field's own error.
        value = self.cleaned_data[name]
        if not value or storable_text_error(value):
            return value
        return pickers.resolve_name(PICKED[name], value, scope=self.scope)

    def clean_channel_id(self) -> str:
        return self._resolved("channel_id")

    def clean_publisher(self) -> str:
        return self._resolved("publisher")

    def clean(self) -> dict:
        cleaned = super().clean()
        self.clean_pickers(cleaned)
        channel = cleaned.get("channel_id")
        if channel and not cleaned.get("DELETE"):
            refusal = read_refusal(
                self.owner, channel, cleaned.get("subtopic") or "", scope=self.scope
            )
            if refusal:
                self.add_error("channel_id", refusal)
        typed = cleaned.get("target_value") or ""
        names = {name.strip() for name in typed.split(",")}
        added = [name for name in dict.fromkeys(cleaned.get("metrics") or []) if name not in names]
        if added:
            cleaned["target_value"] = ",".join([typed, *added] if typed else added)
        elif not typed and "target_value" not in self.errors:
            self.add_error(
                "target_value", "Choose at least one metric from the catalog or type its name."
            )
        return cleaned


class BaseItemFormSet(ChildFormSet):
    remove_label = "Remove this item"
    cap = staticmethod(caps.max_items)
    too_many = staticmethod(caps.too_many_items)
    default_error_messages = {
        "too_few_forms": "Add at least one item: an export needs something to export.",
    }


# One blank "extra" row lets people without JavaScript add an item per save.
ItemFormSet = forms.inlineformset_factory(
    ExportRequest,
    ExportItem,
    form=ItemForm,
    formset=BaseItemFormSet,
    extra=1,
    min_num=1,
    validate_min=True,
    max_num=caps.DEFAULT_MAX_ITEMS,  # read from the settings when built (ChildFormSet)
    validate_max=True,
    can_delete=True,
)
