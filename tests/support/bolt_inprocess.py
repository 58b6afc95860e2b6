"""The Bolt app in-process, as bolt-python's ``tests/scenario_tests`` drive it.

``app.dispatch(BoltRequest(...))`` with a body signed by Slack's algorithm, the
app's Web API calls and ``response_url`` posts going to the local mock Slack.
Used where a test must control something a subprocess cannot share, such as
the day the app believes it is (stale-claim badges).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.answers import ResponseUrlPolicy
from bot.app import create_app
from bot.core.catalog import CatalogHolder, load_catalog
from bot.digest.slack import DigestCommands
from bot.services import Services
from bot.settings import load_settings
from bot.state.db import make_engine, migrate
from bot.state.events import EventLedger
from tests.support.app_server import BOT_TOKEN, SIGNING_SECRET
from tests.support.signing import FORM, JSON, interactive_body, signed_headers

Ack = tuple[int, dict[str, str], bytes]

__all__ = ["InProcessApp", "inprocess_app"]


@dataclass
class InProcessApp:
    app: App
    services: Services
    _seq: list[int] = field(default_factory=lambda: [0])

    def dispatch(
        self, body: str, content_type: str, extra: Mapping[str, str] | None = None
    ) -> BoltResponse:
        headers = {
            **signed_headers(body, SIGNING_SECRET, content_type=content_type),
            **(extra or {}),
        }
        return self.app.dispatch(BoltRequest(body=body, headers=headers))

    def send(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> Ack:
        """The ack as :class:`tests.support.slack_requests.SlackTarget` returns it."""
        response = self.dispatch(body, content_type, extra)
        headers = {name.lower(): values[0] for name, values in response.headers.items() if values}
        return response.status, headers, response.body.encode("utf-8")

    def interactive(self, payload: dict[str, Any]) -> BoltResponse:
        return self.dispatch(interactive_body(payload), FORM)

    def event(self, body: str) -> BoltResponse:
        return self.dispatch(body, JSON)


@contextlib.contextmanager
def inprocess_app(
    api_url: str, database_url: str, claims_dir: Path, **services: Any
) -> Iterator[InProcessApp]:
    """A migrated database, the claims in ``claims_dir``, and the app wired to the mock."""
    engine = make_engine(database_url)
    migrate(engine)
    settings = load_settings(  # the production parser, from the variables the README lists
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
            "DATABASE_URL": database_url,
            "AI_RACE_CLAIMS": str(claims_dir),
        }
    )
    holder = CatalogHolder(load_catalog(claims_dir))
    services.setdefault("digest", DigestCommands(engine, holder))
    built = Services(
        catalog=holder,
        engine=engine,
        events=EventLedger(engine),
        response_urls=ResponseUrlPolicy(api_url),  # the mock's response_url host
        **services,
    )
    try:
        yield InProcessApp(create_app(settings, built), built)
    finally:
        engine.dispose()
