"""The column editor: one row per known column; the ticked rows, by position, are exported.

Rules are checked by ``exports.requests.validation.check_columns``, as in the JSON schema.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.forms import BaseFormSet

from exports.requests.validation import check_columns
from exports.requests.vocabulary import ColumnId

LAST = 10**6  # the sort key of a column row without a usable position


class ColumnForm(forms.Form):
    """One row of the column editor: a message field, whether to export it, header, position."""

    column_id = forms.ChoiceField(choices=ColumnId.choices, widget=forms.HiddenInput)
    include = forms.BooleanField(required=False)
    label = forms.CharField(max_length=200, required=False)
    position = forms.IntegerField(required=False, min_value=1, max_value=1000)


class BaseColumnFormSet(BaseFormSet):
    """The column editor: one row per known column; the included rows, by position, are kept."""

    default_error_messages = {
        "too_many_forms": "The column editor has one row per column; reload the page.",
    }

    def _ordered_included(self) -> list[forms.Form]:
        included = [
            (index, form)
            for index, form in enumerate(self.forms)
            if form.cleaned_data.get("include") and form.cleaned_data.get("column_id")
        ]
        # A row without a position goes last; equal positions keep the page order.
        included.sort(key=lambda pair: (pair[1].cleaned_data.get("position") or LAST, pair[0]))
        return [form for _, form in included]

    def clean(self) -> None:
        if any(self.errors):
            return
        ordered = self._ordered_included()
        pairs = [(f.cleaned_data["column_id"], f.cleaned_data["label"]) for f in ordered]
        for index, message in check_columns(pairs).items():
            ordered[index].add_error("label", message)

    def chosen(self) -> list[tuple[str, str]]:
        """The included ``(column id, label)`` pairs in output order (after validation)."""
        return [
            (f.cleaned_data["column_id"], f.cleaned_data["label"]) for f in self._ordered_included()
        ]

    def rows(self) -> list[forms.Form]:
        """The rows in display order: included ones by position, then the others.

        On a re-rendered (invalid) page this follows the positions that were posted,
        so the table shows the order the user chose.
        """

        def key(pair: tuple[int, forms.Form]):
            index, form = pair
            included = bool(form["include"].value())
            try:
                position = int(form["position"].value())
            except (TypeError, ValueError):
                position = LAST
            return (not included, position if included else 0, index)

        return [form for _, form in sorted(enumerate(self.forms), key=key)]


ColumnFormSet = forms.formset_factory(
    ColumnForm,
    formset=BaseColumnFormSet,
    extra=0,
    max_num=len(ColumnId.values),
    absolute_max=len(ColumnId.values),
    validate_max=True,
)


def column_rows(columns: Sequence[tuple[str, str]]) -> list[dict]:
    """Initial editor rows: the chosen columns in order, then every other column, unticked."""
    chosen = {column_id for column_id, _ in columns}
    rows = [
        {"column_id": column_id, "include": True, "label": label, "position": index}
        for index, (column_id, label) in enumerate(columns, start=1)
    ]
    rows += [
        {"column_id": column_id, "include": False, "label": column_id, "position": None}
        for column_id in ColumnId.values
        if column_id not in chosen
    ]
    return rows
