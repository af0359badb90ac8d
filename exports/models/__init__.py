from .events import IamEvent
from .installation import Installation
from .jobs import ExportJob, JobStatus
from .messages import Message
from .requests import ExportColumn, ExportItem, ExportRequest, NotificationMessage

__all__ = [
    "ExportColumn",
    "ExportItem",
    "ExportJob",
    "ExportRequest",
    "IamEvent",
    "Installation",
    "JobStatus",
    "Message",
    "NotificationMessage",
]
