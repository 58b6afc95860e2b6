"""``ai-race serve``: gunicorn over HTTP for production, or Socket Mode for development.

The claim store is loaded and validated once, before any worker starts: a
broken store refuses to start with every problem listed. Workers are forked
from that loaded process (gunicorn ``preload_app``), so 100,000 claims are
parsed once and their memory is shared copy-on-write. After the fork only each
worker's answer process reads the claims: it watches the files and patches
its catalog on a change; the web workers only acknowledge and hand jobs over.

On SIGTERM each worker, or the Socket Mode process, drains its answer queue
for ``AI_RACE_DRAIN_SECONDS`` and leaves what still waits to the reply outbox
(:mod:`bot.outbox`), which every process's resumer thread picks up;
gunicorn's graceful timeout is the drain plus a margin, so a draining worker
is not killed mid-way.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.answer_process import start_answer_process
from bot.answers import AnswerQueue, ResponseUrlPolicy
from bot.app import create_app
from bot.core.catalog import Catalog, CatalogHolder, load_catalog
from bot.core.errors import SlackUnavailable, UnavailableError
from bot.core.freshness import load_freshness_config
from bot.digest.slack import DigestCommands
from bot.gate import SlackRequestGate
from bot.outbox import Outbox
from bot.resume import outbox_for, start_resumer, team_clients
from bot.runner import JobRunner, LocalAnswers
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.state.db import make_engine, open_database
from bot.state.events import EventLedger
from bot.state.guard import DatabaseGuard
from bot.state.housekeeping import PRUNE_INTERVAL_S, prune_state

log = logging.getLogger(__name__)
WORKER_CONNECTIONS = 250  # open connections per worker; more wait in the listen backlog
KEEPALIVE_S = 2  # an idle connection is closed after this; Slack opens new ones anyway
DRAIN_MARGIN_S = 5  # gunicorn's graceful timeout beyond the drain: requests, then exit
GIL_SWITCH_INTERVAL_S = 0.001
"""How long a CPU-bound thread may keep the GIL while a request thread waits for it.

Python's default is 5 ms, and a request thread waits for the GIL after every
socket read and write. In Socket Mode answers are matched in the same
process, and an ack took several such waits; 1 ms cut ack latency
(BENCHMARKS.md). Over HTTP the answers, the App Home and votes left the web
worker (:mod:`bot.answer_process`); its own threads (the answer link,
housekeeping) are still bounded by it.
"""


def build_services(settings: Settings, *, run_migrations: bool = True) -> Services:
    if run_migrations:
        engine = open_database(settings.database_url)
    else:
        engine = make_engine(settings.database_url)
    # Built in a child process when not saved: workers fork this heap (bot.core.index_cache).
    catalog = load_catalog(settings.claims_dir, build_elsewhere=True)
    holder = CatalogHolder(catalog, build_elsewhere=True)
    guard = DatabaseGuard(engine)
    outbox = outbox_for(settings, engine, guard)
    services = Services(
        catalog=holder,
        engine=engine,
        events=EventLedger(engine),
        digest=DigestCommands(engine, holder),
        response_urls=ResponseUrlPolicy(settings.api_url),
        clients=team_clients(settings, engine),
        review_every=load_freshness_config().review_every,  # a broken file stops start-up
        guard=guard,
    )
    queue = AnswerQueue(capacity=settings.answer_queue, durability=outbox)
    services.jobs = LocalAnswers(queue, JobRunner(services))
    return services


class WebApp:
    """WSGI entry point: ``GET /healthz`` for the platform, ``/slack/events`` for Slack.

    In multi-workspace mode Bolt also serves ``/slack/install`` and
    ``/slack/oauth_redirect``, and ``/`` shows the same install page, so the
    bare host name is a page a person can trust and install from.
    """

    def __init__(self, app: App, services: Services, signing_secret: str) -> None:
        self.slack = SlackRequestHandler(app, path="/slack/events")
        # Size, signature and shape are checked on the raw bytes before Bolt parses.
        self.gated_slack = SlackRequestGate(self.slack, signing_secret)
        self.services = services
        self.install_path = app.oauth_flow.install_path if app.oauth_flow else None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            # 200 while answers work; "database": "degraded" when only the extras are out.
            body = json.dumps(
                {
                    "ok": True,
                    "claims": self.services.jobs.claims(),
                    "database": self.services.db.probe().value,
                    # "restarting": answers get "busy" until the answer process is back.
                    "answers": "ok" if self.services.jobs.up() else "restarting",
                }
            ).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if environ.get("PATH_INFO") == "/slack/events" and environ.get("REQUEST_METHOD") == "POST":
            return self.gated_slack(environ, start_response)
        if self.install_path and environ.get("PATH_INFO") == "/":
            environ = {**environ, "PATH_INFO": self.install_path}
        return self.slack(environ, start_response)


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS before forking workers.

    Building the index allocates and frees hundreds of MB of temporary Python
    objects; glibc keeps the freed pages mapped, and every worker would inherit
    them as resident memory (10,000 claims: 219 MB -> 140 MB RSS after
    ``malloc_trim``). Not glibc (musl, macOS): nothing to do.
    """
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name) if libc_name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass


def start_watcher(
    services: Services, interval: float, changed: Callable[[Catalog], None] = lambda _c: None
) -> threading.Event:
    """The claim watcher (bot.core.catalog.CatalogHolder.watch) in a daemon thread."""
    stop = threading.Event()
    thread = threading.Thread(
        target=services.catalog.watch,
        args=(interval, stop, changed),
        name="claims-watcher",
        daemon=True,
    )
    thread.start()
    return stop


def start_housekeeping(services: Services, miss_retention: timedelta) -> threading.Event:
    """Prune old event ids and missed queries now and hourly (see bot.state.housekeeping)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            pruned = services.db.call(
                lambda engine: prune_state(engine, miss_retention=miss_retention),
                None,
                what="pruning old state",
                timeout=60,
            )
            if pruned is not None:
                log.info("pruned %d event ids, %d missed queries", pruned.events, pruned.misses)
            stop.wait(PRUNE_INTERVAL_S)

    threading.Thread(target=loop, name="housekeeping", daemon=True).start()
    return stop


class ProductionServer(BaseApplication):
    """gunicorn, configured in code so ``ai-race serve`` is the one command to run."""

    def __init__(self, web_app: WebApp, options: dict[str, Any]) -> None:
        self.web_app = web_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WebApp:
        return self.web_app


def _start_resumer(services: Services, settings: Settings) -> None:
    answers, clients = services.jobs, services.clients
    if not isinstance(answers, LocalAnswers) or clients is None:
        return
    queue = answers.queue
    if isinstance(queue.durability, Outbox):
        start_resumer(queue.durability, queue, settings, clients, services.record_citations)


def _post_fork(services: Services, settings: Settings) -> Callable[[Any, Any], None]:
    """Each worker: its answer process, then housekeeping; no claim watcher.

    Everything that reads the claims (answers, the App Home, the feedback
    form's title) runs in the answer process, which watches the files and
    tells the worker its claim count (``/healthz``). A worker never reads the
    catalog it inherited, so it holds no patch of its own after a claim change
    and its share of the preloaded pages stays shared (BENCHMARKS.md, issue 12).
    """

    def hook(_server: Any, worker: Any) -> None:
        # Connections must not be shared across fork(); each worker opens its own.
        services.engine.dispose(close=False)
        local = services.jobs
        assert isinstance(local, LocalAnswers)
        # First, while this worker has one thread: its answers run in their own process.
        services.jobs = start_answer_process(
            services,
            local,
            drain_seconds=settings.drain_seconds,
            inherited=worker.sockets,
            setup=lambda report: _answer_process_setup(services, settings, report),
        )
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        start_housekeeping(services, settings.miss_retention)

    return hook


def _answer_process_setup(
    services: Services, settings: Settings, report_claims: Callable[[int], None]
) -> None:
    """In each answer process: the claim watcher (reporting the count), the outbox resumer."""
    report_claims(len(services.current.store))
    start_watcher(services, settings.reload_seconds, lambda c: report_claims(len(c.store)))
    _start_resumer(services, settings)


def _worker_exit(services: Services, settings: Settings) -> Callable[[Any, Any], None]:
    def hook(_server: Any, _worker: Any) -> None:
        # Runs in the worker after it stopped serving requests (SIGTERM, a deploy).
        services.jobs.drain(settings.drain_seconds)

    return hook


def _slack_error(settings: Settings, exc: Exception) -> SlackUnavailable:
    """One line for a failed start-up ``auth.test``: a refused token, or no answer at all."""
    if isinstance(exc, SlackApiError | BoltError):
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        return SlackUnavailable(
            f"Slack refused SLACK_BOT_TOKEN ({reason}): copy the Bot User OAuth Token again "
            "from your app's OAuth & Permissions page"
        )
    reason = getattr(exc, "reason", None) or exc
    return SlackUnavailable(
        f"Slack could not be reached at {settings.api_url} ({reason}): "
        "check the network, a proxy, or SLACK_API_URL"
    )


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line before gunicorn does with eleven (it retries, then logs each try)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UnavailableError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): "
                "another server is using the port; stop it or pass --port"
            ) from None


def _gunicorn_options(
    args: argparse.Namespace, settings: Settings, services: Services, app: App
) -> dict[str, Any]:
    return {
        "bind": f"{args.host}:{settings.port}",
        "workers": args.workers or settings.web_concurrency,
        # Idle or stalled clients go back to the poller or time out (bot.worker).
        "worker_class": "bot.worker.SlackThreadWorker",
        "worker_connections": WORKER_CONNECTIONS,
        "keepalive": KEEPALIVE_S,
        "threads": args.threads,
        "preload_app": True,
        "timeout": 30,
        "graceful_timeout": settings.drain_seconds + DRAIN_MARGIN_S,
        "post_fork": _post_fork(services, settings),
        "worker_exit": _worker_exit(services, settings),
        "accesslog": "-" if args.access_log else None,
        "loglevel": "info" if args.verbose else "warning",
    }


def serve_socket_mode(app: App, settings: Settings, services: Services) -> int:
    """Socket Mode until SIGTERM or SIGINT, then the same drain as a gunicorn worker's.

    The websocket is closed first, so Slack sends no more events here (one
    not yet acknowledged is sent again to the next connection); then answers
    due within ``AI_RACE_DRAIN_SECONDS`` are posted and the rest are left to
    the reply outbox, which the next process (of either kind) resumes.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    start_watcher(services, settings.reload_seconds)
    start_housekeeping(services, settings.miss_retention)
    _start_resumer(services, settings)
    handler = SocketModeHandler(app, settings.app_token)
    handler.connect()
    print(f"ai-race serve: Socket Mode, {len(services.current.store)} claims", flush=True)
    stop.wait()
    log.info("stopping: closing the Socket Mode connection, draining answers")
    handler.close()
    services.jobs.drain(settings.drain_seconds)
    print("ai-race serve: stopped", flush=True)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Load, check and announce everything, then serve until stopped."""
    settings = load_settings(socket_mode=args.socket, port=args.port)
    if not args.socket:
        _check_port_free(args.host, settings.port)
    services = build_services(settings)
    try:
        app = create_app(settings, services)
    except (BoltError, SlackApiError, URLError, OSError) as exc:
        # auth.test runs at start-up: a revoked token or an unreachable API stops here.
        raise _slack_error(settings, exc) from None
    claims = len(services.current.store)
    if args.socket:
        return serve_socket_mode(app, settings, services)
    workers = args.workers or settings.web_concurrency
    options = _gunicorn_options(args, settings, services, app)
    mode = "HTTP, Add to Slack" if settings.multi_workspace else "HTTP"
    print(
        f"ai-race serve: listening on http://{args.host}:{settings.port}/slack/events "
        f"({mode}, {workers} workers x {args.threads} threads), {claims} claims",
        flush=True,
    )
    # Everything loaded so far (the index, the store's columns) is shared with the
    # forked workers copy-on-write. The cyclic GC writes to every object it
    # visits, which would copy those pages into each worker: freeze them first.
    gc.collect()
    gc.freeze()
    release_free_memory()
    ProductionServer(WebApp(app, services, settings.signing_secret or ""), options).run()
    return 0
