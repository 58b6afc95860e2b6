"""A TCP proxy under the test's control, for putting faults between the app and PostgreSQL.

``partition()`` stops every byte in both directions while keeping every
connection open: the app's kernel still acknowledges what it sends (the
proxy's socket takes it), so the app sees exactly a half-open peer, the case
TCP timeouts alone cannot catch. New connections are accepted but not
connected onwards. ``heal()`` lets the held bytes flow again, as after a real
partition. ``cut()`` closes every open connection (a restart or a NAT reset).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._open = threading.Event()
        self._open.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.held = 0  # chunks waiting on a partition: "the app is blocked on us" right now
        self._held_cond = threading.Condition()
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def partition(self) -> None:
        self._open.clear()

    def wait_until_held(self, timeout: float) -> None:
        """Block until some client has sent bytes that the partition is holding back."""
        with self._held_cond:
            if not self._held_cond.wait_for(lambda: self.held > 0, timeout=timeout):
                raise AssertionError(f"nothing reached the partitioned proxy within {timeout} s")

    def heal(self) -> None:
        self._open.set()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self._listener.close()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._open.wait()  # during a partition the connection goes nowhere
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        self._track(server)
        for source, target in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._open.is_set():
                    with self._held_cond:
                        self.held += 1
                        self._held_cond.notify_all()
                    self._open.wait()
                    with self._held_cond:
                        self.held -= 1
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
