"""Helpers to install the app into mock workspaces over plain HTTP, like a browser would.

A cookie jar carries Bolt's state cookie from the install page to the OAuth
redirect, exactly as a browser does; links are followed by reading their
``href`` from the HTML, so the pages under test decide where the flow goes.
"""

from __future__ import annotations

import html
import http.cookiejar
import re
import time
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy import Engine, select

from bot.state.models import DigestSubscription
from tests.support.app_server import SIGNING_SECRET, RunningApp
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, JSON, event_body, post, signed_headers, slash_command_body

TOKENS = {"T1": "xoxb-team-one-token", "T2": "xoxb-team-two-token"}


def oauth_env(mock: MockSlack) -> dict[str, str]:
    """Environment for ``running_app`` in multi-workspace mode against ``mock``."""
    return {
        "SLACK_CLIENT_ID": mock.client_id,
        "SLACK_CLIENT_SECRET": mock.client_secret,
        "SLACK_BASE_URL": mock.root_url + "/",
        "SLACK_API_URL": mock.base_url,
    }


def link(page: str, element_id: str) -> str:
    """The ``href`` of the anchor with ``id=element_id`` (unescaped)."""
    match = re.search(rf'<a[^>]*id="{re.escape(element_id)}"[^>]*href="([^"]+)"', page)
    if match is None:
        match = re.search(rf'<a[^>]*href="([^"]+)"[^>]*id="{re.escape(element_id)}"', page)
    assert match is not None, f"no link #{element_id} in:\n{page[:2000]}"
    return html.unescape(match.group(1))


class _LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Send ``Secure`` cookies to http://127.0.0.1, as browsers do for loopback hosts."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return request.host.split(":")[0] == "127.0.0.1" or super().return_ok_secure(
            cookie, request
        )


class Browser:
    """GETs with a cookie jar; answers (status, text) for 2xx and 4xx alike."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar(_LoopbackIsSecure())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()


def start_install(browser: Browser, app_url: str, mock: MockSlack) -> str:
    """Open the install page and click "Add to Slack"; returns Slack's authorize page."""
    status, page = browser.get(app_url + "/")
    assert status == 200, page
    status, authorize = browser.get(link(page, "add-to-slack"))
    assert status == 200, authorize
    return authorize


def install(app_url: str, mock: MockSlack, team_id: str) -> str:
    """The whole flow for one workspace; returns the success page."""
    browser = Browser()
    authorize = start_install(browser, app_url, mock)
    status, page = browser.get(link(authorize, f"allow-{team_id}"))
    assert status == 200 and "is installed" in page, (status, page)
    return page


def command(app: RunningApp, mock: MockSlack, team_id: str, text: str) -> tuple[int, bytes, str]:
    """Send a signed ``/ai-race`` from ``team_id``; returns (status, ack body, response key)."""
    key = f"{team_id}-{time.monotonic_ns()}"
    body = slash_command_body(text, team_id=team_id, response_url=mock.response_url(key))
    status, _, ack = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    return status, ack, key


def answered(mock: MockSlack, key: str) -> dict[str, Any]:
    return mock.response_to(key)


def event(app: RunningApp, team_id: str, payload: dict[str, Any], event_id: str) -> int:
    body = event_body(payload, event_id=event_id, team_id=team_id)
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON)
    )
    return status


def paused_by_team(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(DigestSubscription.team_id, DigestSubscription.paused_reason)
        ).all()
    return {team: reason for team, reason in rows}
