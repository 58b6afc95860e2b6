"""The HTTP server's answers run in a separate, lower-priority process, not in the web worker.

Why: answer work (matching, rendering, posting) in threads of the web worker
took the GIL from the request threads that send acks, and on a small machine
the CPU too; lowering a thread's priority made it worse, because a
descheduled thread holding the GIL stalls every ack (BENCHMARKS.md, issue 11).
In a process of its own, an answer neither holds the web worker's GIL nor
wins a core from an ack: it runs under ``SCHED_IDLE`` (and at ``nice``
+:data:`NICE`, what counts where there is no ``SCHED_IDLE``). At ``nice`` +10
alone, Linux's scheduler (EEVDF) let a running answer finish its time slice
before a woken ack thread got the core: 1-3 ms, several times per 200 acks
at 1 client. Under ``SCHED_IDLE`` any ordinary thread that wakes takes the
core at once. The cost: while the web workers keep every core busy, answers
wait; their queue stays bounded, so acks then say "busy" (BENCHMARKS.md).

Topology, per gunicorn worker (not one shared by all workers, so that a
worker's bounded queue, drain and restart stay its own business and gunicorn
needs no hooks it lacks)::

    master ── worker ── supervisor ── answer process
                 └──────── one socket per answer process ───────┘

* The **supervisor** is forked from the worker in gunicorn's ``post_fork``
  hook, while the worker still has a single thread; it shares the preloaded
  store and the mapped index copy-on-write. It does nothing but fork the
  answer process, hand the worker a fresh socket to it (``SCM_RIGHTS`` over a
  control socket), and fork a new one when it dies. Forking from a process
  with one thread is safe; forking the worker again later, with its request
  threads holding locks, would not be.
* The **worker** (:class:`~bot.answer_link.AnswerProcess`) only checks the
  bound, writes the job's JSON line (:class:`~bot.jobs.AnswerJob`) to the
  socket if the socket takes it at once (else a sender thread does, later)
  and acks: the ack never waits for the answer process.
  It counts what it handed over until the answer process reports each one
  done (posted, given up, or handed to the outbox), so a full queue still
  answers "busy" at once. While no answer process is connected (it died and
  is being restarted), submissions are refused: "busy", never a hung ack.
* The **answer process** runs the answers on its own
  :class:`~bot.answers.AnswerQueue` with the reply outbox (:mod:`bot.outbox`),
  and the outbox resumer. It is the worker's only reader of the claims (every
  answer, the App Home, votes) and runs the worker's only claim watcher, so a
  changed claim is patched into one catalog per worker, not two; it reports
  its claim count to the worker for ``/healthz``. When its socket reaches
  end of file (the worker stops, or died) or it gets SIGTERM, it drains for
  ``AI_RACE_DRAIN_SECONDS`` exactly as the web worker used to, hands what
  still waits to the outbox, and exits.

If the answer process dies (``kill -9``, out of memory), the answers it was
working on are lost unless Slack had already made them wait (then they are in
the outbox and resumed by the next process); the supervisor starts another
within milliseconds. If the supervisor dies, the worker stops gracefully and
gunicorn starts a new worker with a new supervisor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.answer_link import PID, STOP_MARGIN_S, AnswerProcess
from bot.answers import Answer, AnswerQueue
from bot.jobs import AnswerJob
from bot.runner import JobRunner, LocalAnswers
from bot.services import Services

log = logging.getLogger(__name__)

NICE = 10
"""The answer process's nice value above its worker's (its policy is ``SCHED_IDLE`` too)."""
REPORT_EVERY_S = 0.05
"""How often, at most, the answer process tells its worker which answers are done.

Every report wakes the worker's reader thread, which takes the GIL from the
ack that is running, if any. One report per answer did that a few hundred
times a second under load, often in the middle of an ack (BENCHMARKS.md,
issue 11). Batched, an answer counts as pending in the worker up to this much
longer: its "busy" bound is stricter by the answers finished meanwhile (at
a few hundred answers a second, a dozen or so of the default 200).
"""
RESTART_PAUSE_S = 1.0
"""An answer process that dies this soon after it started is restarted after this pause."""
UNBOUNDED = 1 << 30
ClaimsReport = Callable[[int], None]
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
_INHERITED_SIGNALS = (
    *_STOP_SIGNALS,
    *(signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH),
    *(signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD),
)


def start_answer_process(
    services: Services,
    local: LocalAnswers,
    *,
    drain_seconds: float,
    inherited: Iterable[Any] = (),
    setup: Callable[[ClaimsReport], None] = lambda _report: None,
) -> AnswerProcess:
    """Fork the supervisor (call while this process has one thread); the worker's end.

    ``local`` is the in-process answers built before the fork: its queue's
    capacity and durability (the outbox) are the answer process's.
    ``inherited`` are the worker's listening sockets, which
    the supervisor and the answer process must not hold open. ``setup`` runs
    in each answer process once its answers are in place (the claim watcher,
    the outbox resumer), with what tells the worker how many claims it
    answers from (``/healthz``: the worker holds no claim watcher).
    """
    worker_end, supervisor_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            worker_end.close()
            for item in inherited:
                _close(item)
            child = _ChildSpec(services, local, drain_seconds, setup)
            code = _Supervisor(supervisor_end, child, drain_seconds + STOP_MARGIN_S).run()
        except BaseException:
            log.exception("the answer supervisor failed")
        finally:
            logging.shutdown()
            os._exit(code)
    supervisor_end.close()
    claims = len(services.current.store)  # until an answer process reports (after a reload)
    return AnswerProcess(worker_end, pid, local.queue.capacity, claims).start()


def _close(item: Any) -> None:
    with contextlib.suppress(OSError):
        item.close() if hasattr(item, "close") else os.close(item)


@dataclass
class _ChildSpec:
    """What an answer process needs: the services, its queue's settings, the drain."""

    services: Services
    local: LocalAnswers
    drain_seconds: float
    setup: Callable[[ClaimsReport], None]


class _Supervisor:
    """Keeps one answer process running until the worker goes (see the module docstring)."""

    def __init__(self, control: socket.socket, child: _ChildSpec, stop_timeout: float) -> None:
        self.control = control
        self.child = child
        self.stop_timeout = stop_timeout
        self.pid: int | None = None
        self.stopping = False
        self.deadline = 0.0
        self.wake_r, self.wake_w = _wakeup_pipe()

    def run(self) -> int:
        _handle_signals(self.wake_w, children=True)
        started = next_start = 0.0
        control = self.control.fileno()
        while not (self.stopping and self.pid is None):
            now = time.monotonic()
            if self.pid is None and not self.stopping and now >= next_start:
                started = now
                self._fork_answer_process()
            watch = [self.wake_r] if self.stopping else [control, self.wake_r]
            readable, _, _ = select.select(watch, [], [], self._timeout(now, next_start))
            if self.wake_r in readable and _take_signals(self.wake_r) and not self.stopping:
                self._stop(signal.SIGTERM)
            if control in readable and not self.control.recv(1):
                self._stop(None)  # the worker stops (or died): no more answer processes
            if self.pid is not None and _exited(self.pid):
                self.pid = None
                if time.monotonic() - started < RESTART_PAUSE_S:
                    next_start = time.monotonic() + RESTART_PAUSE_S
            if self.stopping and self.pid is not None and time.monotonic() > self.deadline:
                log.warning("answer process %d did not drain in time: killing it", self.pid)
                os.kill(self.pid, signal.SIGKILL)
                self.deadline = math.inf  # its exit (SIGCHLD) ends the loop
        return 0

    def _timeout(self, now: float, next_start: float) -> float | None:
        """How long ``select`` may wait: to the kill deadline, or to the next start."""
        if self.stopping:
            return None if self.deadline == math.inf else max(self.deadline - now, 0.0)
        return max(next_start - now, 0.0) if self.pid is None else None

    def _stop(self, forward: int | None) -> None:
        self.stopping = True
        self.deadline = time.monotonic() + self.stop_timeout
        if forward is not None and self.pid is not None:
            os.kill(self.pid, forward)

    def _fork_answer_process(self) -> None:
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for item in (theirs, self.control, self.wake_r, self.wake_w):
                    _close(item)
                code = _serve_answers(ours, self.child)
            except BaseException:
                log.exception("the answer process failed")
            finally:
                logging.shutdown()
                os._exit(code)
        ours.close()
        self.pid = pid
        try:
            socket.send_fds(self.control, [PID.pack(pid)], [theirs.fileno()])
        except OSError:
            self._stop(signal.SIGTERM)  # the worker is gone
        theirs.close()


def _wakeup_pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


def _handle_signals(wake: int, *, children: bool) -> None:
    """Drop gunicorn's handlers (inherited from the worker); stop signals wake ``select``.

    ``children``: a child's exit wakes it too (the supervisor's).
    """
    for signum in _INHERITED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    for signum in (*_STOP_SIGNALS, signal.SIGCHLD) if children else _STOP_SIGNALS:
        signal.signal(signum, lambda _signum, _frame: None)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)


def _take_signals(wake: int) -> bool:
    """Empty the wakeup pipe; True if a stop signal was among what woke us."""
    try:
        received = os.read(wake, 512)
    except BlockingIOError:
        return False
    return any(signum in received for signum in _STOP_SIGNALS)


def _exited(pid: int) -> bool:
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    code = os.waitstatus_to_exitcode(status) if done else 0
    if code != 0:
        log.warning("answer process %d ended with status %d", pid, code)
    return bool(done)


def _serve_answers(sock: socket.socket, spec: _ChildSpec) -> int:
    """The answer process: read jobs until end of file or SIGTERM, then drain and exit."""
    os.nice(NICE)
    _idle_priority()
    wake_r, wake_w = _wakeup_pipe()
    _handle_signals(wake_w, children=False)
    services = spec.services
    services.engine.dispose(close=False)  # never share the worker's connections
    reports = _Reports(sock)
    local = spec.local.queue
    answers = AnswerQueue(
        workers=local.workers,
        capacity=local.capacity,
        durability=local.durability,
        finished=reports.done,
    )
    runner = JobRunner(services)
    services.jobs = LocalAnswers(answers, runner)
    spec.setup(reports.claims)
    _read_jobs(sock, wake_r, answers, runner, reports)
    answers.drain(spec.drain_seconds)
    reports.close()
    return 0


def _idle_priority() -> None:
    """``SCHED_IDLE`` for this process (its threads all start later): see the module docstring."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the nice value stays
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


class _Reports:
    """Tells the worker which answers it handed over are done, and the claim count (JSON lines).

    Done answers go in batches: one line ``{"done": [key, ...]}`` at most every
    :data:`REPORT_EVERY_S`, sent by a thread of its own, so no answer thread
    waits on the socket.
    """

    def __init__(self, sock: socket.socket, every: float = REPORT_EVERY_S) -> None:
        self.sock = sock
        self.every = every
        self.lock = threading.Lock()  # one line at a time on the socket
        self._keys: list[str] = []
        self._more = threading.Condition()
        self._closing = threading.Event()
        self._sender = threading.Thread(target=self._send_done, name="answer-reports", daemon=True)
        self._sender.start()

    def done(self, answer: Answer) -> None:
        with self._more:
            self._keys.append(answer.key)
            self._more.notify()

    def claims(self, count: int) -> None:
        """The catalog answers are given from now has ``count`` claims (at start, on a reload)."""
        self._write({"claims": count})

    def close(self) -> None:
        """Send what is left now, and stop."""
        self._closing.set()
        with self._more:
            self._more.notify()
        self._sender.join(STOP_MARGIN_S)

    def _send_done(self) -> None:
        while True:
            with self._more:
                while not self._keys and not self._closing.is_set():
                    self._more.wait()
                if not self._keys:
                    return
            self._closing.wait(self.every)  # gather what else finishes meanwhile
            with self._more:
                keys, self._keys = self._keys, []
            self._write({"done": keys})

    def _write(self, report: dict[str, Any]) -> None:
        line = json.dumps(report).encode() + b"\n"
        # OSError: the worker is gone, and nobody is counting.
        with self.lock, contextlib.suppress(OSError):
            self.sock.sendall(line)


def _read_jobs(
    sock: socket.socket, wake: int, answers: AnswerQueue, runner: JobRunner, reports: _Reports
) -> None:
    """Queue every job the worker sends until it stops sending or a stop signal comes."""
    buffer = b""
    while True:
        readable, _, _ = select.select([sock.fileno(), wake], [], [])
        if wake in readable and _take_signals(wake):
            return
        if sock.fileno() not in readable:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return
        *lines, buffer = (buffer + chunk).split(b"\n")
        for line in lines:
            answer = runner.answer(AnswerJob.loads(line))
            # The worker already bounded what it handed over (its "busy" notices included).
            if not answers.submit(answer, reserve=UNBOUNDED):
                log.warning("answer queue full in the answer process: dropping a %s", answer.label)
                reports.done(answer)
