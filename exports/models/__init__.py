from .catalog import Channel, Publisher, Series
from .events import IamEvent
from .jobs import ExportJob, JobStatus
from .messages import Message
from .requests import ExportColumn, ExportItem, ExportRequest, NotificationMessage

__all__ = [
    "Channel",
    "ExportColumn",
    "ExportItem",
    "ExportJob",
    "ExportRequest",
    "IamEvent",
    "JobStatus",
    "Message",
    "NotificationMessage",
    "Publisher",
    "Series",
]
