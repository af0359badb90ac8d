"""JetStream deliveries to our pull inbox, read in bulk from the client's buffer (issue 20).

nats-py turns every message into a ``Msg`` object, passes it through a subscription queue
and runs a coroutine callback for it: about half of what a one-record message cost the
subscriber. :func:`read_in_bulk` puts a reader in front of the client's own parser: the run of
plain ``MSG`` lines for our inbox at the head of what has arrived (subject, sid, reply subject,
size, payload — what a JetStream pull delivers for a message published without headers) is
cut straight from the buffer and handed over as one list; a message of ours not complete yet
waits in the buffer for the next read. Everything else — a message with headers (``HMSG``:
pull statuses, a publisher header), a message of another subscription, one without a reply
subject, PING, INFO — is left to nats-py's parser, which reads on from there as before.
"""

from __future__ import annotations

from collections.abc import Callable

from nats.protocol.parser import AWAITING_CONTROL_LINE, MAX_CONTROL_LINE_SIZE

WAIT_LIMIT = 64 * 1024  # bytes of an incomplete message of ours kept for the next read
# (subject, payload, reply subject) of each message, in arrival order.
Taken = list[tuple[bytes, bytes, bytes]]


def read_in_bulk(nc, sid: int, take: Callable[[Taken], None]) -> None:
    """From now on, hand the plain messages of subscription ``sid`` on client ``nc`` to
    ``take`` (called in the event loop, never awaited: it must not block)."""
    parser = nc._ps
    parse = getattr(parser, "_exporter_parse", None) or parser.parse
    parser._exporter_parse = parse  # the client's own, once: a second call replaces ours
    wanted = b"%d" % sid

    async def bulk_then_parse(data: bytes = b"") -> None:
        buffer = parser.buf
        buffer.extend(data)
        if parser.state == AWAITING_CONTROL_LINE and buffer[:4] == b"MSG ":
            messages, used, waiting = plain_messages(bytes(buffer), wanted)
            if used:
                del buffer[:used]
                take(messages)
            if waiting:
                return  # the rest of a message of ours has yet to come
        await parse(b"")

    parser.parse = bulk_then_parse


def plain_messages(data: bytes, sid: bytes) -> tuple[Taken, int, bool]:
    """The leading complete ``MSG <subject> <sid> <reply> <size>`` messages of ``data`` for
    ``sid``, how many bytes they take, and whether what follows is such a message (or a
    ``MSG`` line) not complete yet; stops at the first anything else."""
    messages: Taken = []
    position, length = 0, len(data)
    while data.startswith(b"MSG ", position):
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return messages, position, length - position < MAX_CONTROL_LINE_SIZE
        fields = data[position + 4 : line_end].split()
        if len(fields) != 4 or fields[1] != sid or not fields[3].isdigit():
            break
        start = line_end + 2
        stop = start + int(fields[3])
        if stop + 2 > length:
            # The rest comes with the next read; a long message is left to nats-py's parser,
            # which takes a payload as it arrives rather than the whole buffer again each read.
            return messages, position, stop - position <= WAIT_LIMIT
        if data[stop : stop + 2] != b"\r\n":
            break  # not what it says: nats-py's parser says so
        messages.append((fields[0], data[start:stop], fields[2]))
        position = stop + 2
    return messages, position, False
