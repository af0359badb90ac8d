from exports.models.access import ChannelGrant, RequestShare, ShareRole
from exports.models.bus import BusDeadLetter, BusMessageKey
from exports.models.catalog import Channel, Publisher, Series
from exports.models.events import IamEvent
from exports.models.installation import Installation
from exports.models.jobs import ExportJob, JobStatus, status_words
from exports.models.messages import Message
from exports.models.requests import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "BusDeadLetter",
    "BusMessageKey",
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
    "RequestShare",
    "Series",
    "ShareRole",
    "status_words",
]
