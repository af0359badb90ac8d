from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Deliveries of notification messages, their transports and layouts, download links."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        from exports.models import ExportJob
        from exports.queue.signals import job_finished
        from notifications.dispatch import on_job_finished

        # The one way messages learn that a job is done or failed (the scheduler tick only
        # catches up on a job whose process died before this receiver ran).
        job_finished.connect(
            on_job_finished, sender=ExportJob, dispatch_uid="notifications-job-finished"
        )
