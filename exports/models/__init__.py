from .catalog import Channel, Publisher, Series
from .events import IamEvent
from .installation import Installation
from .jobs import ExportJob, JobStatus, status_words
from .messages import Message
from .requests import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from .tokens import ApiToken, ChannelGrant

__all__ = [
    "ApiToken",
    "ChannelGrant",
    "Channel",
    "ExportColumn",
    "ExportItem",
    "ExportJob",
    "ExportRequest",
    "IamEvent",
    "Installation",
    "JobStatus",
    "Message",
    "NotificationMessage",
    "Publisher",
    "Series",
    "status_words",
]
