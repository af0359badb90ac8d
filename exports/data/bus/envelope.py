"""The platform's protobuf envelope around a NATS message, read without protoc.

Mainflux/Connhex (topic layout ``channels``) and Magistrala/SuperMQ (layout ``m``) publish a
``messaging.Message``: channel, subtopic, publisher, protocol, payload (the bytes the device
sent), created (Unix ns); Magistrala adds a domain as field 2 and renumbers the rest. The
``.proto`` files under ``proto/`` document both; the descriptors are built here from
:data:`SCHEMAS` at import time, so nothing is generated or compiled at install time.
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_KINDS = {"string": _STRING, "bytes": _BYTES, "int64": _INT64}

# layout → (proto package, [(field name, type, number)]), as in proto/<platform>.proto.
SCHEMAS: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "channels": (
        "mainflux.messaging",
        [
            ("channel", "string", 1),
            ("subtopic", "string", 2),
            ("publisher", "string", 3),
            ("protocol", "string", 4),
            ("payload", "bytes", 5),
            ("created", "int64", 6),
        ],
    ),
    "m": (
        "magistrala.messaging",
        [
            ("channel", "string", 1),
            ("domain", "string", 2),
            ("subtopic", "string", 3),
            ("publisher", "string", 4),
            ("protocol", "string", 5),
            ("payload", "bytes", 6),
            ("created", "int64", 7),
        ],
    ),
}


class Envelope(NamedTuple):
    channel: str
    subtopic: str
    publisher: str
    protocol: str
    payload: bytes
    created: int  # Unix ns; 0 when absent
    domain: str = ""


class EnvelopeError(ValueError):
    """Bytes that are not the layout's envelope."""


def _message_classes() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()
    classes = {}
    for layout, (package, fields) in SCHEMAS.items():
        file = descriptor_pb2.FileDescriptorProto(
            name=f"{package.replace('.', '/')}.proto", package=package, syntax="proto3"
        )
        message = file.message_type.add(name="Message")
        for name, kind, number in fields:
            message.field.add(
                name=name,
                number=number,
                type=_KINDS[kind],
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                json_name=name,
            )
        pool.Add(file)
        descriptor = pool.FindMessageTypeByName(f"{package}.Message")
        classes[layout] = message_factory.GetMessageClass(descriptor)
    return classes


MESSAGE_CLASSES = _message_classes()


def decode_envelope(data: bytes, layout: str) -> Envelope:
    """The envelope of ``layout`` in ``data``. Raises :class:`EnvelopeError`."""
    message = MESSAGE_CLASSES[layout]()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeWarning) as exc:
        raise EnvelopeError(f"not a {layout!r} envelope: {exc}") from None
    return Envelope(
        message.channel,
        message.subtopic,
        message.publisher,
        message.protocol,
        bytes(message.payload),
        message.created,
        getattr(message, "domain", ""),
    )


def encode_envelope(layout: str, **fields) -> bytes:
    """An envelope of ``layout`` as the platform's adapters publish it (tests, the bench)."""
    return MESSAGE_CLASSES[layout](**fields).SerializeToString()
