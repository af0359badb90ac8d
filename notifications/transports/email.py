"""Email through Django's email backend: a multipart message, plain text and HTML."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape as html_escape
from django.utils.html import format_html

from exports.requests.recipients import validate_target
from exports.requests.vocabulary import Medium
from notifications.errors import TransportError
from notifications.facts import ExportFacts
from notifications.transports.base import Transport


class Email(Transport):
    """Sends to the message's target address, or to the request owner's address."""

    medium = Medium.EMAIL
    service = "Email"
    text_limit = 20000

    @property
    def recipient(self) -> str:
        return self.target or self.message.request.owner.email

    def escape(self, text: str) -> str:
        return html_escape(text)

    def format_link(self, url: str) -> str:
        return format_html('<a href="{}">{}</a>', url, url)

    def notify(self, facts: ExportFacts) -> str:
        if not self.recipient:
            raise TransportError(
                "The message has no target and the request owner has no email address.",
                permanent=True,
            )
        try:  # the check made when the message was saved; the owner's address too
            validate_target(self.medium, self.recipient)
        except ValidationError as exc:
            raise TransportError(
                f"Not a usable email address: {' '.join(exc.messages)}", permanent=True
            ) from None
        plain = self.context(facts, plain=True)
        subject = " ".join(self.render("email_subject.txt", plain).split())  # one header line
        email = EmailMultiAlternatives(
            subject=subject,
            body=self.render("email.txt", plain),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[self.recipient],
        )
        email.attach_alternative(self.render("email.html", self.context(facts)), "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _smtp_error(code, reply) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TransportError(f"Mail server: {exc}", permanent=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            # Disconnected, refused, timed out: the server may be back soon.
            raise TransportError(f"Could not reach the mail server: {exc}") from None
        return f"Accepted by the mail server for {self.recipient}"


def _smtp_error(code: int, reply: bytes | str) -> TransportError:
    """SMTP's own classification: 4xx try again later, 5xx do not."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return TransportError(f"Mail server answered {code}: {text}", permanent=code >= 500)
