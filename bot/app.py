"""The Bolt app factory: one code base for HTTP (gunicorn) and Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.install.flow import build_install_flow
from bot.listeners import register_listeners
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)
NOT_INSTALLED = (
    "AI Race Bot is not installed in this workspace (or was uninstalled). "
    "Ask a workspace admin to add it again from its “Add to Slack” page."
)


def make_client(settings: Settings) -> WebClient:
    """A Web API client with no rate-limit retry handler, on purpose.

    slack_sdk's handler sleeps out Retry-After in the calling thread; the
    answer queue (:mod:`bot.answers`) reschedules a 429'd answer instead, so
    no thread that could serve an ack or another answer sleeps. In multi-workspace
    mode it has no token: Bolt gives every request a copy carrying the token
    its team installed (looked up by the authorize step).
    """
    return WebClient(token=settings.bot_token, base_url=settings.api_url, timeout=10)


def create_app(settings: Settings, services: Services) -> App:
    # Single workspace: one token, checked at start-up so a revoked token fails
    # loudly. Multi-workspace: Bolt's OAuth flow and per-team tokens from our database.
    mode: dict[str, Any] = {"token_verification_enabled": True}
    if settings.oauth is not None:
        mode = {
            "oauth_flow": build_install_flow(settings.oauth, services.engine),
            "installation_store_bot_only": True,
            "user_facing_authorize_error_message": NOT_INSTALLED,
        }
    app = App(
        client=make_client(settings),
        signing_secret=settings.signing_secret or None,
        # Ack functions and event listeners run here; they only queue answers
        # (bot.answers), so these threads are never held by answer work.
        listener_executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="ai-race-ack"),
        request_verification_enabled=bool(settings.signing_secret),
        **mode,
    )
    app.use(_provide_services(services))
    app.use(_drop_duplicate_events(services))
    register_listeners(app)

    @app.error
    def _log_errors(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        logger.error("listener failed for a %s request: %r", body.get("type"), error)

    return app


def _provide_services(services: Services) -> Callable[..., Any]:
    def middleware(context: dict[str, Any], next: Callable[[], Any]) -> Any:
        context["services"] = services
        return next()

    return middleware


def _drop_duplicate_events(services: Services) -> Callable[..., Any]:
    """Answer each Events API delivery once, across retries, restarts and processes.

    The event id is claimed in the database before any listener runs. A retry
    (``X-Slack-Retry-Num``) or a duplicate that arrives while the first delivery
    is still being handled, in this process or another, finds it claimed and
    gets a plain 200 with ``X-Slack-No-Retry`` so Slack stops sending it.
    """

    def middleware(body: dict[str, Any], next: Callable[[], Any], logger: logging.Logger) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        # Keyed by workspace too: ids are only promised unique per app and team.
        key = f"{body.get('team_id') or body.get('enterprise_id') or '-'}:{event_id}"
        if event_id and not services.events.first_time(key[:64]):
            logger.info("dropping duplicate delivery of event %s", event_id)
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        return next()

    return middleware
