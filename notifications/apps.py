from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Deliveries of notification messages, their transports and layouts, download links."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
