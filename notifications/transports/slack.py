"""Slack through an incoming webhook URL (the message's target)."""

from __future__ import annotations

from exports.requests.vocabulary import Medium
from notifications.facts import ExportFacts
from notifications.http import post_json
from notifications.transports.base import Transport

# mrkdwn has no escape character: the only escapes Slack decodes are &amp; &lt; &gt;.
# The formatting characters are therefore replaced by look-alikes that Slack does not
# read as markup, so *bold*, _italic_, ~strike~ and `code` in user text arrive literally.
ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
LOOKALIKES = str.maketrans(
    {
        "*": "\u2217",  # ∗ asterisk operator
        "_": "\u02cd",  # ˍ modifier letter low macron
        "~": "\u223c",  # ∼ tilde operator
        "`": "\u02cb",  # ˋ modifier letter grave accent
    }
)


class Slack(Transport):
    medium = Medium.SLACK
    service = "Slack"

    def escape(self, text: str) -> str:
        # With <, > and & as entities, <!channel>, <@U123> and <http://x|label> arrive as
        # literal text; with the look-alikes, no formatting remains either.
        return text.translate(ENTITIES).translate(LOOKALIKES)

    def escape_url(self, url: str) -> str:
        # Inside <url|label> only the entities apply (a look-alike would change the URL);
        # a "|" would end the URL early.
        return url.translate(ENTITIES).replace("|", "%7C")

    def format_link(self, url: str) -> str:
        return f"<{self.escape_url(url)}>"

    def notify(self, facts: ExportFacts) -> str:
        payload = self.render_json("slack.json", self.context(facts))
        return post_json(self.target, payload, service=self.service).summary
