from django.contrib import admin
from django.utils import timezone

from exports.admin.base import CheckedSelectionAdmin
from notifications.dispatch import hand_over
from notifications.models import Delivery, DeliveryStatus, DownloadLink, DownloadLog


@admin.action(description="Resend the selected deliveries whose outcome is unknown")
def resend(modeladmin, request, queryset) -> None:
    resent = 0
    for delivery in queryset.filter(status=DeliveryStatus.UNKNOWN):
        if delivery.resend():
            hand_over(delivery.pk)
            resent += 1
    skipped = queryset.count() - resent
    modeladmin.message_user(
        request,
        f"{resent} delivery(ies) will be sent again"
        + (f"; {skipped} skipped (only unknown ones are resent)." if skipped else "."),
    )


@admin.register(Delivery)
class DeliveryAdmin(CheckedSelectionAdmin):
    list_display = ("id", "job", "message", "recipient", "status", "attempts", "sent_at")
    list_filter = ("status", "is_permanent_error", "message__medium")
    search_fields = ("recipient", "last_error", "rq_job_id")
    raw_id_fields = ("job", "message", "link")
    readonly_fields = (
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "enqueued_at",
        "rq_job_id",
        "sent_at",
    )
    actions = [resend]


@admin.action(description="Revoke the selected links")
def revoke(modeladmin, request, queryset) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(DownloadLink)
class DownloadLinkAdmin(CheckedSelectionAdmin):
    list_display = ("id", "job", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    raw_id_fields = ("job",)
    # The hash is useless to people and the token is never stored.
    exclude = ("token_hash",)
    actions = [revoke]

    def has_add_permission(self, request) -> bool:
        return False  # links are made for messages, where the raw token is delivered


@admin.register(DownloadLog)
class DownloadLogAdmin(CheckedSelectionAdmin):
    list_display = ("at", "job", "link", "ip", "user_agent")
    raw_id_fields = ("job", "link")
    date_hierarchy = "at"
