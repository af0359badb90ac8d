"""A real S3 endpoint on 127.0.0.1 for tests: moto's server, and a proxy that can cut it off.

``S3Server`` runs moto's S3 server in a thread on a free port. ``FaultProxy`` forwards TCP
from a port of its own to the server and can stop like a crashed endpoint: its listener
closes (new connections are refused) and every open connection is torn down, optionally
in the middle of a request once enough of it has gone through.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


class S3Server:
    """moto's S3 server on 127.0.0.1 (a free port chosen by the OS)."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> None:
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class FaultProxy:
    """A TCP forwarder from 127.0.0.1:<port> to 127.0.0.1:<target_port> that can be cut.

    ``cut_after(marker, nbytes)``: once a client has sent a request containing ``marker``
    and at least ``nbytes`` more bytes of it went through, the proxy stops (as if the
    endpoint died mid-request). ``start()`` again listens on the same port.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._trigger: tuple[bytes, int] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            try:
                # RST instead of FIN: the client sees a dead peer, not a finished answer.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut_after(self, marker: bytes, nbytes: int) -> None:
        self._trigger = (marker, nbytes)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            seen = {"marker": False, "after": 0}
            threading.Thread(
                target=self._pump, args=(client, upstream, self._watch(seen)), daemon=True
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _watch(self, seen: dict) -> Callable[[bytes], bool]:
        def should_cut(chunk: bytes) -> bool:
            if self._trigger is None:
                return False
            marker, nbytes = self._trigger
            if not seen["marker"]:
                if marker not in chunk:
                    return False
                seen["marker"] = True
                chunk = chunk[chunk.index(marker) :]
            seen["after"] += len(chunk)
            return seen["after"] >= nbytes

        return should_cut

    def _pump(self, source, sink, should_cut: Callable[[bytes], bool] | None) -> None:
        try:
            while chunk := source.recv(65536):
                if should_cut is not None and should_cut(chunk):
                    self._trigger = None
                    self.cuts += 1
                    self.stop()
                    return
                sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
