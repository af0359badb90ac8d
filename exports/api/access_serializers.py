"""The shapes of the access endpoints: channels, grants and teams (see ``views/access.py``)."""

from __future__ import annotations

from rest_framework import serializers


class ChannelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The channel id.")
    name = serializers.CharField(help_text="Its human name; empty when it has none.")
    subtopics = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text='The subtopics seen in it that you may read; "" stands for messages '
        "published without a subtopic.",
    )


class ChannelListSerializer(serializers.Serializer):
    results = ChannelSerializer(many=True)


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField(source="channel_id")
    subtopic = serializers.CharField(help_text="A subtopic prefix; empty for the whole channel.")
    user = serializers.CharField(source="user.username", allow_null=True, default=None)
    group = serializers.CharField(source="group.name", allow_null=True, default=None)
    read = serializers.BooleanField(source="can_read")
    publish = serializers.BooleanField(source="can_publish")
    createdAt = serializers.DateTimeField(source="created_at")


class GrantListSerializer(serializers.Serializer):
    results = GrantSerializer(many=True)


class GrantRequestSerializer(serializers.Serializer):
    """What to grant, and to whom: a user or a team (by name, one of the two)."""

    user = serializers.CharField(required=False, help_text="A user name.")
    group = serializers.CharField(required=False, help_text="A team (group) name.")
    subtopic = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=255,
        help_text="Narrow to a subtopic prefix (events covers events.data); default: the "
        "whole channel.",
    )
    read = serializers.BooleanField(required=False, default=False)
    publish = serializers.BooleanField(required=False, default=False)


class GroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    members = serializers.ListField(child=serializers.CharField(), help_text="User names.")
    grants = serializers.IntegerField(help_text="How many grants the team holds.")


class GroupListSerializer(serializers.Serializer):
    results = GroupSerializer(many=True)


class GroupRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150, help_text="The new team's name (no slash).")
