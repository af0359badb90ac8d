"""Telegram through the Bot API's sendMessage; the target is the chat id."""

from __future__ import annotations

from django.utils.html import escape as html_escape
from django.utils.html import format_html

from exports.requests.vocabulary import Medium
from notifications import conf
from notifications.errors import TransportError
from notifications.facts import ExportFacts
from notifications.http import post_json
from notifications.transports.base import Transport


class Telegram(Transport):
    medium = Medium.TELEGRAM
    service = "Telegram"

    def escape(self, text: str) -> str:
        return html_escape(text)

    def format_link(self, url: str) -> str:
        return format_html('<a href="{}">{}</a>', url, url)

    def notify(self, facts: ExportFacts) -> str:
        token = conf.telegram_bot_token()
        if not token:
            raise TransportError("TELEGRAM_BOT_TOKEN is not set.", permanent=True)
        chat_id: int | str = int(self.target) if self.target.lstrip("-").isdigit() else self.target
        payload = {
            "chat_id": chat_id,
            "text": self.render("telegram.html", self.context(facts)).strip(),
            "parse_mode": "HTML",
            # A preview would make Telegram's servers fetch (and log) the download link.
            "link_preview_options": {"is_disabled": True},
        }
        # The URL holds the bot token: it comes from settings (trusted) and
        # post_json never repeats URLs in its errors.
        url = f"{conf.telegram_api_base()}/bot{token}/sendMessage"
        response = post_json(url, payload, service=self.service, trusted=True)
        result = (response.json() or {}).get("result") or {}
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if message_id is None:
            return response.summary
        return f"HTTP {response.status}, message_id {message_id}"
