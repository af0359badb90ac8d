from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save, pre_delete


class ExportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from exports import iam
        from exports.ops.startup import check_settings

        check_settings()
        from exports.models import (
            ExportColumn,
            ExportItem,
            ExportJob,
            ExportRequest,
            NotificationMessage,
            RequestShare,
        )
        from exports.scheduling import signals as scheduling_signals

        post_save.connect(iam.on_request_saved, sender=ExportRequest, dispatch_uid="iam-req-save")
        pre_delete.connect(
            iam.on_request_deleting, sender=ExportRequest, dispatch_uid="iam-req-delete"
        )
        # A share is a child too: sharing or unsharing is an update of the request (its
        # snapshot lists the shares), one event per transaction like any other change.
        for child in (ExportItem, ExportColumn, NotificationMessage, RequestShare):
            for signal in (post_save, post_delete):
                signal.connect(
                    iam.on_child_changed,
                    sender=child,
                    dispatch_uid=f"iam-{child.__name__}-{signal is post_save}",
                )
        scheduling_signals.connect()
        post_delete.connect(_delete_job_file, sender=ExportJob, dispatch_uid="job-file-delete")
        _connect_access_events(iam)


def _connect_access_events(iam) -> None:
    """Every change of who may read or publish — grants, teams, members — is an IAM event."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed

    from exports.models import ChannelGrant

    post_save.connect(iam.on_grant_saved, sender=ChannelGrant, dispatch_uid="iam-grant-save")
    pre_delete.connect(iam.on_grant_deleting, sender=ChannelGrant, dispatch_uid="iam-grant-pre")
    post_delete.connect(iam.on_grant_deleted, sender=ChannelGrant, dispatch_uid="iam-grant-del")
    post_save.connect(iam.on_group_changed, sender=Group, dispatch_uid="iam-group-save")
    post_delete.connect(iam.on_group_deleted, sender=Group, dispatch_uid="iam-group-del")
    m2m_changed.connect(
        iam.on_group_members_changed,
        sender=get_user_model().groups.through,
        dispatch_uid="iam-group-members",
    )


def _delete_job_file(sender, instance, **kwargs) -> None:
    """A deleted job (or request) takes its file with it — once the deletion is committed."""
    if instance.file:
        from django.db import transaction

        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: _delete_quietly(storage, name))


def _delete_quietly(storage, name: str) -> None:
    # The rows are gone already; a store that is down must not turn the deletion into an error.
    import logging

    try:
        storage.delete(name)
    except OSError as exc:
        logging.getLogger(__name__).warning("Could not delete file %s: %s", name, exc)
