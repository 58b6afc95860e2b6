"""A gunicorn thread worker on which idle or slow clients cannot hold every thread.

gunicorn's ``gthread`` worker gives each new connection a thread that waits
up to 5 s for its first byte, and once a byte has come, reads the rest of the
request with no timeout at all. A hundred idle connections therefore queue
real requests for tens of seconds, and a client that sends half a request
and stops holds its thread for ever. This worker changes two things:

* a new connection that has sent nothing yet goes back to gunicorn's poller
  after :data:`IDLE_WAIT_S` (it costs a file descriptor, not a thread, until
  its keep-alive timeout closes it);
* every read and write on a client socket times out after
  :data:`IO_TIMEOUT_S`; the connection is then dropped quietly (a debug line,
  no traceback).

A client that trickles a byte every few seconds can still hold a thread for
as long as it keeps going: that is what a buffering proxy in front is for
(see the README's Operations section).
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from gunicorn.workers.gthread import _DEFER, ThreadWorker

IDLE_WAIT_S = 0.1
IO_TIMEOUT_S = 5.0


class _TimedSocket(socket.socket):
    """A client socket whose blocking calls time out, reported as a reset connection.

    gunicorn switches client sockets between blocking and non-blocking mode;
    "blocking" here means "blocking for at most IO_TIMEOUT_S". A timeout is
    raised as ECONNRESET, which gunicorn drops quietly, because a client that
    stalls is not a server error worth a traceback.
    """

    __slots__ = ()

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(IO_TIMEOUT_S)
        else:
            super().setblocking(False)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            return super().recv(bufsize, flags)
        except TimeoutError as exc:
            raise ConnectionResetError(errno.ECONNRESET, "client too slow") from exc

    def sendall(self, data: Any, flags: int = 0) -> None:
        try:
            super().sendall(data, flags)
        except TimeoutError as exc:
            raise ConnectionResetError(errno.ECONNRESET, "client too slow") from exc


class SlackThreadWorker(ThreadWorker):
    """``gthread`` with a short idle wait and bounded socket I/O (see the module docstring)."""

    def handle(self, conn: Any) -> Any:
        if type(conn.sock) is socket.socket:  # plain TCP only; TLS is terminated in front
            conn.sock.__class__ = _TimedSocket
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(IDLE_WAIT_S):
            return _DEFER
        return super().handle(conn)
