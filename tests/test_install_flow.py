"""Multi-workspace mode through the real stack: "Add to Slack", per-team tokens, uninstall.

``ai-race serve`` runs under gunicorn with ``SLACK_CLIENT_ID``; the flow goes
through Bolt's OAuth handlers and the mock Slack's authorize page and
``oauth.v2.access``; Slack requests are signed. Which token answered a team is
read from the ``Authorization`` header the mock received.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select, update

from bot.app import NOT_INSTALLED
from bot.state.db import make_engine
from bot.state.models import SLACK_BOTS, SLACK_OAUTH_STATES
from tests.support.app_server import RunningApp, running_app
from tests.support.installs import (
    TOKENS,
    Browser,
    answered,
    command,
    event,
    install,
    link,
    oauth_env,
    paused_by_team,
    start_install,
)
from tests.support.mock_slack import MockSlack
from tests.support.polling import eventually


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        for team_id, token in TOKENS.items():
            server.add_workspace(team_id, f"Workspace {team_id}", token)
        yield server


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'oauth.sqlite3'}"


@pytest.fixture(scope="module")
def app(
    mock: MockSlack, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    with running_app(
        mock.base_url, database_url, tmp_path_factory.mktemp("log"), **oauth_env(mock)
    ) as running:
        mock.redirect_uri = f"{running.url}/slack/oauth_redirect"
        yield running


def tokens_used(mock: MockSlack, method: str) -> list[str]:
    return [c.headers.get("authorization", "") for c in mock.calls_to(method)]


def test_root_is_the_install_page_with_every_scope_and_why(
    app: RunningApp, mock: MockSlack
) -> None:
    status, page = Browser().get(app.url + "/")
    assert status == 200
    assert "AI Race Bot" in page and "Add to Slack" in page
    for scope in ("commands", "chat:write", "users:read", "app_mentions:read"):
        assert f"<code>{scope}</code> — " in page
    authorize = link(page, "add-to-slack")
    assert authorize.startswith(f"{mock.root_url}/oauth/v2/authorize?state=")
    assert "client_id=1111.2222" in authorize


def test_two_workspaces_each_answered_with_their_own_token(
    app: RunningApp, mock: MockSlack
) -> None:
    mock.reset()
    status, ack, key = command(app, mock, "T2", "help")
    assert status == 200 and ack == b""
    assert answered(mock, key)["text"] == NOT_INSTALLED  # not installed in T2 yet
    for team_id in TOKENS:
        assert f"Workspace {team_id}" in install(app.url, mock, team_id)
    for team_id, token in TOKENS.items():
        mock.reset()
        status, ack, key = command(app, mock, team_id, "digest on 08:30 daily")
        assert status == 200 and ack == b""
        assert "08:30" in str(answered(mock, key))
        assert tokens_used(mock, "users.info") == [f"Bearer {token}"]  # the default time zone
        mock.reset()
        assert (
            event(
                app,
                team_id,
                {
                    "type": "app_mention",
                    "user": "U123",
                    "channel": "C9",
                    "text": "<@UBOT> distillation",
                    "ts": "1.000001",
                },
                f"Ev{team_id}mention",
            )
            == 200
        )
        mock.wait_for("chat.postMessage")
        assert tokens_used(mock, "chat.postMessage") == [f"Bearer {token}"]
        home = {"type": "app_home_opened", "user": "U123", "channel": "D1", "tab": "home"}
        assert event(app, team_id, home, f"Ev{team_id}home") == 200
        mock.wait_for("views.publish")
        assert tokens_used(mock, "views.publish") == [f"Bearer {token}"]


def test_the_same_event_id_in_two_workspaces_is_answered_in_both(
    app: RunningApp, mock: MockSlack
) -> None:
    for team_id in TOKENS:
        install(app.url, mock, team_id)
    mock.reset()
    for team_id in TOKENS:
        payload = {
            "type": "app_mention",
            "user": "U123",
            "channel": "C9",
            "text": "<@UBOT> chips",
            "ts": "2.000001",
        }
        assert event(app, team_id, payload, "EvSHARED") == 200
    calls = mock.wait_for("chat.postMessage", 2)
    assert sorted(c.headers["authorization"] for c in calls) == sorted(
        f"Bearer {t}" for t in TOKENS.values()
    )


def test_a_reused_state_is_refused(app: RunningApp, mock: MockSlack) -> None:
    browser = Browser()
    authorize = start_install(browser, app.url, mock)
    callback = link(authorize, "allow-T1")
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    assert browser.get(callback)[0] == 200
    status, page = Browser().get(callback, {"Cookie": cookie})  # replayed, cookie and all
    assert status == 401 and "expired" in page and 'href="/slack/install"' in page


def test_an_expired_state_is_refused(app: RunningApp, mock: MockSlack, database_url: str) -> None:
    browser = Browser()
    authorize = start_install(browser, app.url, mock)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(SLACK_OAUTH_STATES).values(expire_at=_long_ago()))
    finally:
        engine.dispose()
    status, page = browser.get(link(authorize, "allow-T1"))
    assert status == 401 and "This install link has expired" in page


def test_cancel_and_slack_errors_each_get_their_own_page(app: RunningApp, mock: MockSlack) -> None:
    browser = Browser()
    authorize = start_install(browser, app.url, mock)
    status, page = browser.get(link(authorize, "cancel"))
    assert status == 200 and "Installation cancelled" in page
    authorize = start_install(browser, app.url, mock)
    bad_code = link(authorize, "allow-T1").replace("code=", "code=bogus")
    status, page = browser.get(bad_code)
    assert status == 401 and "Slack could not complete the installation" in page
    authorize = start_install(Browser(), app.url, mock)
    status, page = browser.get(link(authorize, "allow-T1"))  # another browser's state
    assert status == 400 and "same browser" in page


def _long_ago() -> datetime:
    return datetime(2000, 1, 1)  # slack_sdk stores naive UTC


# PostgreSQL only: the browser test runs the same uninstall on SQLite.
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_uninstall_pauses_only_that_workspace_and_reinstall_resumes(
    db_url: str, mock: MockSlack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with running_app(
        mock.base_url, db_url, tmp_path_factory.mktemp("log"), workers=1, **oauth_env(mock)
    ) as app:
        mock.redirect_uri = f"{app.url}/slack/oauth_redirect"
        for team_id in TOKENS:
            install(app.url, mock, team_id)
            _, _, key = command(app, mock, team_id, "digest on 09:00 UTC daily")
            answered(mock, key)
        assert event(app, "T1", {"type": "app_uninstalled"}, "EvUninstall") == 200
        engine = make_engine(db_url)
        try:
            # The event is acked first and handled right after: wait for its effect.
            expected = {"T1": "app_uninstalled", "T2": None}
            assert eventually(lambda: paused_by_team(engine) == expected), paused_by_team(engine)
            with engine.connect() as connection:
                teams = connection.execute(select(SLACK_BOTS.c.team_id)).scalars().all()
            assert "T1" not in teams and "T2" in teams
            _, _, key = command(app, mock, "T1", "help")
            assert answered(mock, key)["text"] == NOT_INSTALLED
            install(app.url, mock, "T1")
            assert paused_by_team(engine) == {"T1": None, "T2": None}
            # A token Slack refuses from now on is handled like an uninstall.
            mock.invalid_tokens.add(TOKENS["T1"])
            _, _, key = command(app, mock, "T1", "help")
            assert answered(mock, key)["text"] == NOT_INSTALLED
            assert paused_by_team(engine) == {"T1": "invalid_auth", "T2": None}
            with engine.connect() as connection:
                teams = connection.execute(select(SLACK_BOTS.c.team_id)).scalars().all()
            assert "T1" not in teams and "T2" in teams
        finally:
            mock.invalid_tokens.discard(TOKENS["T1"])
            engine.dispose()
