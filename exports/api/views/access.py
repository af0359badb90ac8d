"""Channels you may read; managing grants and teams over HTTP.

``GET /api/channels`` answers any caller with what ``exports.data.access.read_scope`` lets
them read. Grants and teams are for staff and holders of ``exports.manage_access`` (403 for
everyone else). Changes go through ``exports.data.granting`` like the pages and the commands,
acting as the caller, so each emits its IAM event with the caller as actor.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Prefetch
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.access_serializers import (
    ChannelListSerializer,
    GrantListSerializer,
    GrantRequestSerializer,
    GrantSerializer,
    GroupListSerializer,
    GroupRequestSerializer,
    GroupSerializer,
)
from exports.api.errors import documented
from exports.data.access import may_manage_access, read_scope
from exports.data.channels import channel_grants, readable_channels
from exports.data.granting import (
    GrantError,
    channel_name,
    clean_group_name,
    clean_subtopic,
    delete_team,
    find_group,
    find_user,
    give,
)
from exports.iam import acting_as
from exports.models import ChannelGrant


class ManagesAccess(BasePermission):
    message = "Managing access needs staff status or the manage_access permission."

    def has_permission(self, request, view) -> bool:
        return may_manage_access(request.user)


MANAGERS = [IsAuthenticated, ManagesAccess]


class ChannelListView(APIView):
    @extend_schema(
        operation_id="channels_list",
        summary="List the channels you may read",
        description="Each channel you may read something of, by name, with the subtopics seen "
        "in it that you may read. Staff (and everyone when the access mode is open) see all.",
        responses={200: ChannelListSerializer, **documented(401, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response({"results": readable_channels(read_scope(request.user))})


def _known_channel(channel: str) -> None:
    if channel_name(channel) is None:
        raise NotFound("No such channel.")


class ChannelGrantsView(APIView):
    permission_classes = MANAGERS

    @extend_schema(
        operation_id="channel_grants_list",
        summary="List a channel's grants",
        description="Who may read and publish the channel (staff or manage_access only).",
        responses={200: GrantListSerializer, **documented(401, 403, 404, 429)},
    )
    def get(self, request: Request, channel: str) -> Response:
        _known_channel(channel)
        grants = GrantSerializer(channel_grants(channel), many=True).data
        return Response({"results": grants})

    @extend_schema(
        operation_id="channel_grants_create",
        summary="Grant read and/or publish on a channel",
        description="To a user or a team, by name, for the whole channel or from a subtopic "
        "prefix on. Rights add to a grant the grantee holds on the same subtopic (201 when "
        "the grant is new, 200 when it grew or held them already).",
        request=GrantRequestSerializer,
        responses={
            200: GrantSerializer,
            201: GrantSerializer,
            **documented(400, 401, 403, 404, 413, 415, 429),
        },
        examples=[
            OpenApiExample(
                "Read for a team",
                value={"group": "greenhouse", "subtopic": "events", "read": True},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, channel: str) -> Response:
        _known_channel(channel)
        serializer = GrantRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        errors: dict[str, list[str]] = {}
        grantee = _grantee(data, errors)
        if not (data["read"] or data["publish"]):
            errors.setdefault("read", []).append("Grant read, publish, or both.")
        try:
            subtopic = clean_subtopic(data["subtopic"])
        except GrantError as exc:
            errors.setdefault(exc.field, []).append(exc.message)
        if errors:
            raise ValidationError(errors)
        with acting_as(request.user):
            grant, created = give(
                grantee, channel, subtopic, read=data["read"], publish=data["publish"]
            )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(GrantSerializer(grant).data, status=answer)


def _grantee(data: dict, errors: dict[str, list[str]]) -> dict:
    """``{"user": …, "group": …}`` from a request naming exactly one of them."""
    user, group = data.get("user"), data.get("group")
    if user is not None and group is not None:
        errors["group"] = ["Give a user or a group, not both."]
        return {}
    if user is None and group is None:
        errors[""] = ['Say who: "user" (a user name) or "group" (a team name).']
        return {}
    try:
        if user is not None:
            return {"user": find_user(user), "group": None}
        return {"group": find_group(group), "user": None}
    except GrantError as exc:
        errors[exc.field] = [exc.message]
        return {}


class ChannelGrantView(APIView):
    permission_classes = MANAGERS

    @extend_schema(
        operation_id="channel_grants_delete",
        summary="Revoke a grant",
        description="Takes the whole grant away (staff or manage_access only).",
        responses={204: None, **documented(401, 403, 404, 429)},
    )
    def delete(self, request: Request, channel: str, grant_id: int) -> Response:
        grant = ChannelGrant.objects.filter(pk=grant_id, channel_id=channel).first()
        if grant is None:
            raise NotFound("No such grant on this channel.")
        with acting_as(request.user):
            grant.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def _groups():
    members = Prefetch("user_set", queryset=get_user_model().objects.order_by("username"))
    return (
        Group.objects.order_by("name")
        .annotate(grant_count=Count("channel_grants", distinct=True))
        .prefetch_related(members)
    )


def _group_json(group: Group) -> dict:
    members = [user.get_username() for user in group.user_set.all()]
    return {"name": group.name, "members": members, "grants": group.grant_count}


def _group(name: str) -> Group:
    group = _groups().filter(name=name).first()
    if group is None:
        raise NotFound(f"No team named {name!r}.")
    return group


class GroupListView(APIView):
    permission_classes = MANAGERS

    @extend_schema(
        operation_id="groups_list",
        summary="List the teams",
        description="Every team (Django group) with its members and how many grants it holds.",
        responses={200: GroupListSerializer, **documented(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response({"results": [_group_json(group) for group in _groups()]})

    @extend_schema(
        operation_id="groups_create",
        summary="Create a team",
        request=GroupRequestSerializer,
        responses={201: GroupSerializer, **documented(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = GroupRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            name = clean_group_name(serializer.validated_data["name"])
        except GrantError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        with acting_as(request.user):
            Group.objects.create(name=name)
        return Response(_group_json(_group(name)), status=status.HTTP_201_CREATED)


class GroupView(APIView):
    permission_classes = MANAGERS

    @extend_schema(
        operation_id="groups_delete",
        summary="Delete a team",
        description="Its grants go with it; its members keep the grants given to them.",
        responses={204: None, **documented(401, 403, 404, 429)},
    )
    def delete(self, request: Request, name: str) -> Response:
        group = _group(name)
        with acting_as(request.user):
            delete_team(group)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberView(APIView):
    permission_classes = MANAGERS

    def _find(self, name: str, username: str):
        group = _group(name)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        return group, user

    @extend_schema(
        operation_id="groups_members_add",
        summary="Add a member to a team",
        description="Idempotent: a member already in the team stays.",
        request=None,
        responses={200: GroupSerializer, **documented(401, 403, 404, 429)},
    )
    def put(self, request: Request, name: str, username: str) -> Response:
        group, user = self._find(name, username)
        with acting_as(request.user):
            group.user_set.add(user)
        return Response(_group_json(_group(name)))

    @extend_schema(
        operation_id="groups_members_remove",
        summary="Remove a member from a team",
        responses={204: None, **documented(401, 403, 404, 429)},
    )
    def delete(self, request: Request, name: str, username: str) -> Response:
        group, user = self._find(name, username)
        if not group.user_set.filter(pk=user.pk).exists():
            raise NotFound(f"{username} is not in @{name}.")
        with acting_as(request.user):
            group.user_set.remove(user)
        return Response(status=status.HTTP_204_NO_CONTENT)
