"""The access pages' forms: grant to a user or a team, create a team, add a member.

Grantees and members are chosen from ``<select>`` lists of names (their values are row ids,
never typed). Each form checks everything before anything is saved.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from exports.data.granting import GrantError, clean_group_name, clean_subtopic

PICK = "Pick one from the list."


def _users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class GrantForm(forms.Form):
    """Read and/or publish on one channel, whole or from a subtopic prefix on."""

    grantee = forms.ChoiceField(
        label="Team or user",
        error_messages={"required": "Choose a team or a user.", "invalid_choice": PICK},
    )
    subtopic = forms.ChoiceField(
        label="Subtopic",
        required=False,
        error_messages={
            "invalid_choice": PICK,
        },
    )
    prefix = forms.CharField(
        label="Or another subtopic prefix",
        required=False,
        max_length=255,
        help_text="events covers events and events.data; leave empty to use the list.",
    )
    read = forms.BooleanField(label="Read", required=False)
    publish = forms.BooleanField(label="Publish", required=False)

    def __init__(self, *args, subtopics: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grantee"].choices = [
            ("", "— choose —"),
            ("Teams", [(f"group:{g.pk}", f"@{g.name}") for g in Group.objects.order_by("name")]),
            ("Users", [(f"user:{u.pk}", u.get_username()) for u in _users()]),
        ]
        self.fields["subtopic"].choices = [("", "Whole channel")] + [(s, s) for s in subtopics]

    def clean_grantee(self) -> dict:
        kind, _, pk = self.cleaned_data["grantee"].partition(":")
        model = Group if kind == "group" else get_user_model()
        found = model.objects.filter(pk=pk).first()
        if found is None:  # deleted since the page was shown
            raise forms.ValidationError(f"That {'team' if kind == 'group' else 'user'} is gone.")
        return {"group": found, "user": None} if kind == "group" else {"user": found, "group": None}

    def clean(self) -> dict:
        data = super().clean()
        if not (data.get("read") or data.get("publish")):
            self.add_error("read", "Choose what to grant: read, publish, or both.")
        picked, typed = data.get("subtopic", ""), data.get("prefix", "").strip()
        if picked and typed and picked != typed:
            self.add_error("prefix", "Pick a subtopic from the list or type a prefix, not both.")
        elif "prefix" in data:
            try:
                data["where"] = clean_subtopic(typed or picked)
            except GrantError as exc:
                self.add_error("prefix", exc.message)
        return data


class GroupForm(forms.Form):
    """A new team (a Django group) by name."""

    name = forms.CharField(label="Team name", max_length=150)

    def clean_name(self) -> str:
        try:
            return clean_group_name(self.cleaned_data["name"])
        except GrantError as exc:
            raise forms.ValidationError(exc.message) from None


class MemberForm(forms.Form):
    """One user to add to a team, from those not in it yet."""

    user = forms.ChoiceField(
        label="User",
        error_messages={"required": "Choose a user to add.", "invalid_choice": PICK},
    )

    def __init__(self, *args, group: Group, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        outside = _users().exclude(groups=group)
        self.fields["user"].choices = [("", "— choose —")] + [
            (str(u.pk), u.get_username()) for u in outside
        ]

    def clean_user(self):
        user = get_user_model().objects.filter(pk=self.cleaned_data["user"]).first()
        if user is None:
            raise forms.ValidationError("That user is gone.")
        return user
