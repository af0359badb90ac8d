"""Email through Django's email backend: a multipart message, plain text and HTML, and the
export file attached when the message asks for it (``attach``) and it is small enough."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.template.defaultfilters import filesizeformat
from django.utils.html import escape as html_escape
from django.utils.html import format_html

from exports.files.downloads import download_filename
from exports.requests.recipients import team_name, validate_target
from exports.requests.vocabulary import Medium
from notifications import conf
from notifications.errors import TransportError
from notifications.facts import ExportFacts
from notifications.transports.base import Transport


class Email(Transport):
    """Sends to the message's target address, to every member of the team it names
    (``@team``: the members' addresses when it is sent, each once), or to the request owner."""

    medium = Medium.EMAIL
    service = "Email"
    text_limit = 20000

    @property
    def recipient(self) -> str:
        return self.target or self.message.request.owner.email

    def addresses(self) -> list[str]:
        """Where the message goes. Raises a permanent ``TransportError`` when nowhere."""
        team = team_name(self.medium, self.target)
        if team is None:
            if not self.recipient:
                raise TransportError(
                    "The message has no target and the request owner has no email address.",
                    permanent=True,
                )
            return [self.recipient]
        if not Group.objects.filter(name=team).exists():
            raise TransportError(f"The team @{team} no longer exists.", permanent=True)
        members = get_user_model().objects.filter(groups__name=team, is_active=True)
        unique: dict[str, str] = {}  # one message per address, whatever its case
        for address in members.exclude(email="").order_by("pk").values_list("email", flat=True):
            unique.setdefault(address.strip().lower(), address.strip())
        if not unique:
            raise TransportError(
                f"No active member of the team @{team} has an email address.", permanent=True
            )
        return list(unique.values())

    def _attach(self, email: EmailMultiAlternatives) -> str:
        """Attach the job's file when it is at most ``NOTIFICATIONS_ATTACH_MAX_BYTES``;
        return the sentence that says why it is not attached ("" when it is, or when the
        job has no file: a failure or an empty export)."""
        job = getattr(self, "job", None)
        if job is None or not job.is_downloadable:
            return ""
        limit = conf.attach_max_bytes()
        if job.size is not None and job.size > limit:
            return (
                f"The file ({filesizeformat(job.size)}) is larger than the "
                f"{filesizeformat(limit)} an email may carry here, so it is not attached: "
                "download it with the link."
            )
        with job.file.open("rb") as handle:
            content = handle.read(limit + 1)
        if len(content) > limit:
            return "The file is too large to attach: download it with the link."
        email.attach(download_filename(job), content, job.content_type or None)
        return ""

    def escape(self, text: str) -> str:
        return html_escape(text)

    def format_link(self, url: str) -> str:
        return format_html('<a href="{}">{}</a>', url, url)

    def notify(self, facts: ExportFacts) -> str:
        addresses = self.addresses()
        try:  # the check made when the message was saved; the owner's and members' too
            for address in addresses:
                validate_target(self.medium, address)
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
            to=addresses,
        )
        html = self.render("email.html", self.context(facts))
        if self.message.attach:
            note = self._attach(email)
            if note:
                email.body += f"\n\n{note}\n"
                html = _before_body_end(html, format_html("<p>{}</p>", note))
        email.attach_alternative(html, "text/html")
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
        if len(addresses) > 1:
            return f"Accepted by the mail server for {self.recipient} ({len(addresses)} addresses)"
        return f"Accepted by the mail server for {self.recipient}"


def _before_body_end(html: str, paragraph: str) -> str:
    """``paragraph`` added at the end of the HTML body (or of the text, without one)."""
    at = html.lower().rfind("</body>")
    return html + paragraph if at < 0 else html[:at] + paragraph + html[at:]


def _smtp_error(code: int, reply: bytes | str) -> TransportError:
    """SMTP's own classification: 4xx try again later, 5xx do not."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return TransportError(f"Mail server answered {code}: {text}", permanent=code >= 500)
