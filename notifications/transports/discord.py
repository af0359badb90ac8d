"""Discord through a channel webhook URL (the message's target)."""

from __future__ import annotations

import re

from exports.requests.vocabulary import Medium
from notifications.facts import ExportFacts
from notifications.http import post_json
from notifications.transports.base import Transport

# Characters that start Markdown, masked links or mentions (<@id>, <#channel>).
MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()<])")


class Discord(Transport):
    medium = Medium.DISCORD
    service = "Discord"
    title_limit = 120  # an embed title holds 256 characters, and escaping can double them
    text_limit = 1500  # an embed description holds 4096

    def escape(self, text: str) -> str:
        # Backslash-escape Markdown, and break @everyone/@here with a zero-width
        # space; the layout also sets allowed_mentions to none, which is what
        # really stops pings.
        return MARKDOWN.sub(r"\\\1", text).replace("@", "@\u200b")

    def escape_url(self, url: str) -> str:
        # Our own absolute URL (SITE_URL + a url-safe token): backslashes would
        # break Discord's auto-linking and the embed's url field.
        return url

    def notify(self, facts: ExportFacts) -> str:
        payload = self.render_json("discord.json", self.context(facts))
        return post_json(self.target, payload, service=self.service).summary
