"""The web worker's side of its answer process: hand jobs over, count them, notice a death.

See :mod:`bot.answer_process` for the topology and why answers run there.
Everything here runs in the web worker: :class:`AnswerProcess` is its
:class:`~bot.jobs.Answers`, and must never make an ack wait for answer work.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import struct
import threading
from collections import deque

from bot.jobs import AnswerJob

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
"""How long a new worker waits for its first answer process before serving anyway ("busy")."""
STOP_MARGIN_S = 2.0
"""Beyond the drain: time for the answer process to hand over and exit."""
PID = struct.Struct("!q")
"""What the supervisor sends with each answer process's socket: its pid."""


class _Link:
    """The worker's end of one answer process's socket.

    A request thread writes its job straight to the socket when the socket
    takes it at once (the usual case: a job is a few hundred bytes); only
    what the socket cannot take now waits for the sender thread, so an ack
    never blocks on the answer process and rarely wakes another thread.
    A reader thread counts the answer process's "done" reports, which come
    in batches (:data:`bot.answer_process.REPORT_EVERY_S`) so that it seldom
    wakes during an ack, and keeps the claim count it reports (its claim
    watcher's, for ``/healthz``).
    """

    def __init__(self, sock: socket.socket, pid: int, owner: AnswerProcess) -> None:
        self.sock = sock
        self.pid = pid
        self.owner = owner
        self.outstanding: set[str] = set()
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._backlog: deque[bytes] = deque()  # waiting for the sender, oldest first
        self._more = threading.Condition(self._lock)
        self._ending = False

    def start(self) -> None:
        for target, name in ((self._send, "answers-out"), (self._read, "answers-in")):
            threading.Thread(target=target, name=f"{name}-{self.pid}", daemon=True).start()

    def send(self, line: bytes) -> None:
        with self._lock:
            if not self._backlog:  # nothing is queued before it: try the socket now
                try:
                    sent = self.sock.send(line, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    return  # the answer process is gone: the reader sees it and says so
                if sent == len(line):
                    return
                line = line[sent:]
            self._backlog.append(line)
            self._more.notify()

    def end(self) -> None:
        """No more jobs: the sender flushes what waits, then closes our side for writing."""
        with self._lock:
            self._ending = True
            self._more.notify()

    def _send(self) -> None:
        while True:
            with self._lock:
                while not self._backlog and not self._ending:
                    self._more.wait()
                if not self._backlog:
                    break
                line = self._backlog[0]  # stays first until written: later sends queue behind
            try:
                self.sock.sendall(line)
            except OSError:
                return
            with self._lock:
                self._backlog.popleft()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)  # end of jobs: the answer process drains

    def _read(self) -> None:
        try:
            with self.sock.makefile("rb") as reports:
                for line in reports:
                    report = json.loads(line)
                    if "claims" in report:
                        self.owner.claims_now = int(report["claims"])
                    else:
                        self.owner.done(self, [str(key) for key in report.get("done", [])])
        except (OSError, ValueError) as exc:
            log.warning("answer process %d: bad report (%s)", self.pid, type(exc).__name__)
        finally:
            self.sock.close()
            self.owner.lost(self)
            self.closed.set()


class AnswerProcess:
    """The web worker's :class:`~bot.jobs.Answers`: hands jobs to its answer process."""

    def __init__(self, control: socket.socket, supervisor: int, capacity: int, claims: int) -> None:
        self.control = control
        self.supervisor = supervisor
        self.capacity = capacity
        self.claims_now = claims  # the latest count an answer process reported (an int: atomic)
        self._lock = threading.Lock()
        self._link: _Link | None = None
        self._stopping = False
        self._connected = threading.Event()
        self._receiver = threading.Thread(target=self._receive, name="answers-links", daemon=True)

    def start(self) -> AnswerProcess:
        """Start taking answer processes; return once the first is connected (or given up on).

        A worker that served before its answer process was there would answer
        its first requests "busy" for no reason.
        """
        self._receiver.start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            log.warning(
                "no answer process after %g s; answering 'busy' until one starts", CONNECT_TIMEOUT_S
            )
        return self

    def submit(self, job: AnswerJob, *, reserve: int = 0) -> bool:
        with self._lock:
            link = self._link
            if link is None or self._stopping:
                return False
            if len(link.outstanding) >= self.capacity + reserve:
                return False
            link.outstanding.add(job.key)
        link.send(job.dumps())
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._link.outstanding) if self._link is not None else 0

    def up(self) -> bool:
        with self._lock:
            return self._link is not None

    def claims(self) -> int:
        return self.claims_now

    def done(self, link: _Link, keys: list[str]) -> None:
        with self._lock:
            link.outstanding.difference_update(keys)

    def lost(self, link: _Link) -> None:
        with self._lock:
            if self._link is link:
                self._link = None
            lost, stopping = len(link.outstanding), self._stopping
        if not stopping:
            log.error(
                "answer process %d exited; %d answers in it were lost "
                "(any Slack had made wait resume from the outbox); starting another",
                link.pid,
                lost,
            )

    def drain(self, timeout: float) -> int:
        """Stop: the answer process drains within ``timeout`` and exits; wait for it."""
        with self._lock:
            self._stopping = True
            link = self._link
        with contextlib.suppress(OSError):
            self.control.shutdown(socket.SHUT_WR)  # the supervisor starts no other
        if link is not None:
            link.end()
            if not link.closed.wait(timeout + STOP_MARGIN_S):
                log.warning("answer process %d did not stop in time", link.pid)
        self._receiver.join(STOP_MARGIN_S)
        _reap(self.supervisor)
        return 0  # the answer process logs what it kept in the outbox

    def _receive(self) -> None:
        """Take each new answer process's socket from the supervisor, until it exits."""
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.control, PID.size, 1)
            except OSError:
                data, fds = b"", []
            if len(data) < PID.size or not fds:
                break
            (pid,) = PID.unpack(data)
            link = _Link(socket.socket(fileno=fds[0]), pid, self)
            link.start()
            with self._lock:
                self._link = link
            self._connected.set()
            log.info("answer process %d started", pid)
        self._connected.set()  # none will come: start() must not wait for it
        with self._lock:
            stopping = self._stopping
        if not stopping:
            log.error("the answer supervisor exited; stopping this worker so gunicorn starts anew")
            os.kill(os.getpid(), signal.SIGTERM)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
