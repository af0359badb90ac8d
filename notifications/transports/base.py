"""The interface every medium implements, and the layout rendering they share."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from exports.models import NotificationMessage
from exports.requests.recipients import describe_target
from notifications import conf, placeholders
from notifications.errors import TransportError
from notifications.facts import ExportFacts

# Used when a message has no title of its own.
DEFAULT_TITLES = {
    True: "Export “{request_name}” is ready",
    False: "Export “{request_name}” failed",
}


class Transport:
    """Sends one notification message through one medium.

    A subclass names its ``medium`` and ``service``, says how plain text is
    escaped for the medium (``escape``) and how a link is written
    (``format_link``), and implements ``notify``. Text comes from the layout
    templates under ``templates/notifications/layouts/``; the user's title and
    text enter them already rendered and escaped (see ``placeholders``).
    """

    medium: ClassVar[str]
    service: ClassVar[str]
    # Longest user title/text kept, in characters before escaping: providers
    # reject oversized messages and a cut-off message beats none.
    title_limit: ClassVar[int] = 200
    text_limit: ClassVar[int] = 3000

    def __init__(self, message: NotificationMessage) -> None:
        self.message = message

    @property
    def target(self) -> str:
        return self.message.target.strip()

    @property
    def recipient(self) -> str:
        """Who the message goes to, as it may be shown to people."""
        return describe_target(self.medium, self.target)

    def escape(self, text: str) -> str:
        """Turn plain text into inert text of the medium's markup."""
        raise NotImplementedError

    def escape_url(self, url: str) -> str:
        """A URL made safe to place inside the medium's link syntax (the layouts' ``link``)."""
        return self.escape(url)

    def format_link(self, url: str) -> str:
        """The ``{link}`` placeholder as a link in the medium's markup."""
        return self.escape_url(url)

    def notify(self, facts: ExportFacts) -> str:
        """Send the message about ``facts``.

        Returns a short summary of the provider's answer. Raises
        ``TransportError`` (``permanent`` when retrying cannot help).
        """
        raise NotImplementedError

    def context(self, facts: ExportFacts, *, plain: bool = False) -> dict[str, Any]:
        """The layout context: title, text and facts, every value escaped for the medium.

        ``link`` is the download link (or request page) ready for an href or
        the medium's link syntax. ``plain`` leaves everything unescaped, for
        plain-text layouts such as the email's text part and subject.
        """
        escape = str if plain else self.escape
        format_link = str if plain else self.format_link
        escape_url = str if plain else self.escape_url
        values = facts.values()
        title = (self.message.title or DEFAULT_TITLES[facts.is_success])[: self.title_limit]
        text = self.message.text[: self.text_limit]
        return {
            "title": placeholders.render(title, values, escape, format_link),
            "text": placeholders.render(text, values, escape, format_link),
            "facts": {name: _safe(escape(value)) for name, value in values.items()},
            "link": _safe(escape_url(facts.link)),
            "is_success": facts.is_success,
            "site_url": _safe(escape(conf.site_url())),
        }

    def render(self, layout: str, context: dict[str, Any]) -> str:
        """Render ``templates/notifications/layouts/<layout>``."""
        return render_to_string(f"notifications/layouts/{layout}", context)

    def render_json(self, layout: str, context: dict[str, Any]) -> Any:
        """Render a JSON layout and parse it, so a broken override fails loudly here.

        Raises ``TransportError`` (permanent) when the layout is not valid JSON.
        """
        try:
            return json.loads(self.render(layout, context))
        except ValueError as exc:
            raise TransportError(
                f"The {layout} layout does not render valid JSON: {exc}", permanent=True
            ) from None


def _safe(text: str) -> SafeString:
    return mark_safe(text)
