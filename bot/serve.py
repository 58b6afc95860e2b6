"""``ai-race serve``: gunicorn over HTTP for production, or Socket Mode for development.

The claim store is loaded and validated once, before any worker starts: a
broken store refuses to start with every problem listed. Workers are forked
from that loaded process (gunicorn ``preload_app``), so 100,000 claims are
parsed once and their memory is shared copy-on-write.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.error import URLError

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.answers import AnswerQueue, ResponseUrlPolicy
from bot.app import create_app
from bot.core.catalog import CatalogHolder, load_catalog
from bot.core.freshness import load_freshness_config
from bot.core.problems import StoreError
from bot.digest.slack import DigestCommands
from bot.gate import SlackRequestGate
from bot.services import Services
from bot.settings import Settings, SettingsError, load_settings
from bot.state.db import make_engine, migrate, redact_url
from bot.state.events import EventLedger

log = logging.getLogger(__name__)
RELOAD_INTERVAL = 30.0


def build_services(settings: Settings, *, run_migrations: bool = True) -> Services:
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    holder = CatalogHolder(load_catalog(settings.claims_dir))
    return Services(
        catalog=holder,
        engine=engine,
        events=EventLedger(engine),
        digest=DigestCommands(engine, holder),
        response_urls=ResponseUrlPolicy(settings.api_url),
        answers=AnswerQueue(capacity=settings.answer_queue),
        review_every=load_freshness_config().review_every,  # a broken file stops start-up
    )


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
            body = json.dumps({"ok": True, "claims": len(self.services.current.store)}).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        if environ.get("PATH_INFO") == "/slack/events" and environ.get("REQUEST_METHOD") == "POST":
            return self.gated_slack(environ, start_response)
        if self.install_path and environ.get("PATH_INFO") == "/":
            environ = {**environ, "PATH_INFO": self.install_path}
        return self.slack(environ, start_response)


def start_watcher(services: Services) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=services.catalog.watch,
        args=(RELOAD_INTERVAL, stop),
        name="claims-watcher",
        daemon=True,
    )
    thread.start()
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


def _post_fork(services: Services) -> Callable[[Any, Any], None]:
    def hook(_server: Any, _worker: Any) -> None:
        # Connections must not be shared across fork(); each worker opens its own.
        services.engine.dispose(close=False)
        start_watcher(services)

    return hook


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(socket_mode=args.socket, port=args.port)
    except SettingsError as exc:
        print(f"ai-race serve: {exc}", file=sys.stderr)
        return 2
    try:
        services = build_services(settings)
    except StoreError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("ai-race serve: refusing to start with a broken claim store", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        print(
            f"ai-race serve: cannot use the database {redact_url(settings.database_url)}: "
            f"{str(cause).strip().splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    log.info(
        "database: %s; %d claims", redact_url(settings.database_url), len(services.current.store)
    )
    try:
        app = create_app(settings, services)
    except (BoltError, SlackApiError, URLError, OSError) as exc:
        # auth.test runs at start-up: a revoked token or an unreachable API stops here.
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
        print(
            f"ai-race serve: Slack refused or could not be reached at {settings.api_url} "
            f"({reason}); check SLACK_BOT_TOKEN and the network",
            file=sys.stderr,
        )
        return 1
    if args.socket:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        start_watcher(services)
        SocketModeHandler(app, settings.app_token).start()
        return 0
    workers = args.workers or int(os.environ.get("WEB_CONCURRENCY", "2"))
    options = {
        "bind": f"{args.host}:{settings.port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": args.threads,
        "preload_app": True,
        "timeout": 30,
        "graceful_timeout": 10,
        "post_fork": _post_fork(services),
        "accesslog": "-" if args.access_log else None,
        "loglevel": "info" if args.verbose else "warning",
    }
    # Everything loaded so far (the index, the store's columns) is shared with the
    # forked workers copy-on-write. The cyclic GC writes to every object it
    # visits, which would copy those pages into each worker: freeze them first.
    gc.collect()
    gc.freeze()
    ProductionServer(WebApp(app, services, settings.signing_secret), options).run()
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the Slack app (HTTP via gunicorn, or --socket)")
    serve.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT or 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    serve.add_argument(
        "--workers", type=int, default=None, help="processes (default $WEB_CONCURRENCY or 2)"
    )
    serve.add_argument("--threads", type=int, default=8, help="threads per process (default 8)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)
