"""A request's shares in its JSON (``shares``), saving them, and the page's share form.

``"shares": [{"user": "bob", "role": "viewer"}, {"group": "cold-chain", "role": "editor"}]``:
a user by user name, a team by group name, each at most once. Who may see and change a shared
request is decided in ``exports.data.access``; this module only reads, writes and stores them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import F

from exports.models import ExportRequest, RequestShare, ShareRole

ROLES = ", ".join(ShareRole.values)


def dump_shares(request: ExportRequest) -> list[dict[str, str]]:
    """The request's shares in the JSON shape, oldest first."""
    return [
        {"group": s.group.name, "role": s.role}
        if s.group_id
        else {"user": s.user.get_username(), "role": s.role}
        for s in request.shares.all()
    ]


def parse_shares(raw: Any, owner) -> tuple[list[RequestShare], list[tuple[str, str]]]:
    """Unsaved shares from the JSON ``shares`` list, and the (path, message) of each problem."""
    if not isinstance(raw, list):
        return [], [("shares", "must be a list of {user or group, role} objects.")]
    shares, errors, seen = [], [], set()
    users = get_user_model()
    for index, entry in enumerate(raw):
        path = f"shares[{index}]"
        if not isinstance(entry, dict):
            errors.append((path, "must be a JSON object."))
            continue
        for key in entry:
            if key not in ("user", "group", "role"):
                errors.append(
                    (f"{path}.{key}", "unknown field; expected one of group, role, user.")
                )
        role = entry.get("role", ShareRole.VIEWER)
        if role not in ShareRole.values:
            errors.append((f"{path}.role", f"{role!r} is not one of: {ROLES}."))
        kind = [key for key in ("user", "group") if key in entry]
        if len(kind) != 1:
            errors.append((path, "names either a user or a group (one of them)."))
            continue
        [key] = kind
        name = entry[key]
        if not isinstance(name, str) or not name.strip():
            errors.append((f"{path}.{key}", f"must be a {key} name."))
            continue
        share = RequestShare(role=role)
        if key == "user":
            share.user = users.objects.filter(**{users.USERNAME_FIELD: name.strip()}).first()
            if share.user is None:
                errors.append((f"{path}.user", f"No user is called {name.strip()!r}."))
                continue
            if owner is not None and share.user.pk == owner.pk:
                errors.append((f"{path}.user", f"{name.strip()} owns this export already."))
                continue
        else:
            share.group = Group.objects.filter(name=name.strip()).first()
            if share.group is None:
                errors.append((f"{path}.group", f"No group is called {name.strip()!r}."))
                continue
        identity = (key, share.user_id or share.group_id)
        if identity in seen:
            errors.append((f"{path}.{key}", f"{name.strip()!r} is listed twice."))
            continue
        seen.add(identity)
        shares.append(share)
    return shares, errors


def same_shares(request: ExportRequest, shares: list[RequestShare]) -> bool:
    """Whether ``shares`` are exactly the request's stored shares (grantee and role)."""

    def key(s):
        return (s.user_id, s.group_id, s.role)

    return sorted(map(key, request.shares.all()), key=str) == sorted(map(key, shares), key=str)


def replace_shares(request: ExportRequest, shares: list[RequestShare]) -> None:
    """Make ``shares`` the request's shares: keep the unchanged ones, change roles, add, remove.

    Each save or delete is a change of the request's children: one IAM event for the request.
    """
    stored = {(s.user_id, s.group_id): s for s in request.shares.all()}
    for share in shares:
        current = stored.pop((share.user_id, share.group_id), None)
        if current is None:
            share.pk, share.request = None, request
            share.save()
        elif current.role != share.role:
            current.role = share.role
            current.save(update_fields=["role"])
    for gone in stored.values():
        gone.delete()


def share_with(request: ExportRequest, *, user=None, group=None, role: str) -> RequestShare:
    """Share ``request`` with one user or group (a new share, or a new role for theirs)."""
    share, created = RequestShare.objects.get_or_create(
        request=request, user=user, group=group, defaults={"role": role}
    )
    if not created and share.role != role:
        share.role = role
        share.save(update_fields=["role"])
    return share


class ShareForm(forms.Form):
    """The request page's "Share with" form: a user or a group, and a role."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    role = forms.ChoiceField(choices=ShareRole.choices, initial=ShareRole.VIEWER)

    def __init__(self, *args, export: ExportRequest, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.export = export
        users = get_user_model().objects.filter(is_active=True).exclude(pk=export.owner_id)
        self.fields["user"].queryset = users.order_by(get_user_model().USERNAME_FIELD)
        self.fields["user"].empty_label = "— a user —"
        self.fields["group"].empty_label = "— or a group —"

    def clean(self) -> dict:
        cleaned = super().clean()
        if bool(cleaned.get("user")) == bool(cleaned.get("group")):
            raise forms.ValidationError("Choose a user or a group (one of them).")
        return cleaned

    def save(self) -> RequestShare:
        data = self.cleaned_data
        return share_with(self.export, user=data["user"], group=data["group"], role=data["role"])


def shares_of(request: ExportRequest):
    """The request's shares with their users and groups loaded, groups first, by name."""
    return (
        RequestShare.objects.filter(request=request)
        .select_related("user", "group")
        .order_by(F("group__name").asc(nulls_last=True), "user__username")
    )
