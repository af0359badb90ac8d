"""Slack through an incoming webhook URL (the message's target)."""

from __future__ import annotations

from exports.vocabulary import Medium

from ..facts import ExportFacts
from ..http import post_json
from .base import Transport


class Slack(Transport):
    medium = Medium.SLACK
    service = "Slack"

    def escape(self, text: str) -> str:
        # Slack's mrkdwn control characters: with these escaped, <!channel>,
        # <@U123> and <http://x|label> arrive as literal text.
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def format_link(self, url: str) -> str:
        return f"<{self.escape(url)}>"

    def notify(self, facts: ExportFacts) -> str:
        payload = self.render_json("slack.json", self.context(facts))
        return post_json(self.target, payload, service=self.service).summary
