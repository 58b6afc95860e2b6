"""The Bolt app factory: one code base for HTTP (gunicorn) and Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
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


def configure_client(client: WebClient, settings: Settings) -> WebClient:
    """Point a Web API client at ``settings.api_url`` with our timeout; no rate-limit handler.

    No rate-limit retry handler, on purpose: slack_sdk's sleeps out
    Retry-After in the calling thread; the answer queue (:mod:`bot.answers`)
    reschedules a 429'd answer instead, so no thread that could serve an ack
    or another answer sleeps. Bolt copies these attributes into every
    request's client; in multi-workspace mode that copy carries the token its
    team installed (looked up by the authorize step).
    """
    client.base_url = settings.api_url
    client.timeout = 10
    return client


def make_client(settings: Settings) -> WebClient:
    return configure_client(WebClient(token=settings.bot_token), settings)


def create_app(settings: Settings, services: Services) -> App:
    """The Bolt app for one workspace (one token) or many (Bolt's OAuth flow).

    Single workspace: Bolt is given the token rather than a ready client —
    given a ``client`` it also reads ``SLACK_BOT_TOKEN`` from the environment
    and warns that the token "will be unused" — and the client it makes is
    then pointed at our API URL. Our own ``auth.test``, made first, fails
    start-up loudly on a revoked token or an unreachable API (raising
    ``SlackApiError`` or ``OSError``). Multi-workspace: per-team tokens come
    from our database.
    """
    mode: dict[str, Any]
    if settings.oauth is not None:
        mode = {
            "client": make_client(settings),
            "oauth_flow": build_install_flow(settings.oauth, services.engine),
            "installation_store_bot_only": True,
            "user_facing_authorize_error_message": NOT_INSTALLED,
        }
    else:
        make_client(settings).auth_test()
        mode = {"token": settings.bot_token, "token_verification_enabled": False}
    app = App(
        signing_secret=settings.signing_secret or None,
        # Listeners run in the request thread and the response is sent when they
        # return. Bolt's default hands every ack function to an executor and
        # polls for the ack every 10 ms: 10 ms and a thread hop on each request
        # for nothing, since our ack functions only queue answers (bot.answers).
        process_before_response=True,
        request_verification_enabled=bool(settings.signing_secret),
        **mode,
    )
    configure_client(app.client, settings)
    if services.clients is None:
        # Answers run outside the request (bot.runner): they look the team's token up.
        from bot.resume import team_clients

        services.clients = team_clients(settings, services.engine, app.client)
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
        if event_id and not services.first_delivery(key[:64]):
            logger.info("dropping duplicate delivery of event %s", event_id)
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        return next()

    return middleware
