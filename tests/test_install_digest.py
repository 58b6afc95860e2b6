"""Digests, misses, feedback and tokens with several workspaces installed (``SLACK_CLIENT_ID`` set).

Installations are saved with slack_sdk's own store (the OAuth flow that saves
them is tested in ``test_install_flow.py``); ``ai-race digest run`` then has to
post each channel's digest with its own workspace's token, pause only the
workspace that uninstalled, and treat a token Slack refuses like an uninstall.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine

from bot.cli import build_parser
from bot.core.feedback import AnswerKind, Vote
from bot.digest.subscriptions import subscribe
from bot.state.feedback import VoteKey, record_vote, voter_hash
from bot.state.misses import record_miss
from bot.state.workspaces import TokenLoss, pause_workspace_digests
from tests.support.installs import TOKENS, paused_by_team
from tests.support.mock_slack import MockSlack

SUBSCRIBED = datetime(2026, 11, 1, tzinfo=UTC)  # before the runs below (--at)

CLIENT_ID = "1111.2222"


def cli(*argv: str) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as mock:
        yield mock


@pytest.fixture
def store(db_engine: Engine) -> SQLAlchemyInstallationStore:
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=db_engine)
    for team_id, token in TOKENS.items():
        store.save(
            Installation(
                app_id="A1",
                team_id=team_id,
                team_name=team_id,
                bot_token=token,
                bot_id="B1",
                bot_user_id="UBOT",
                bot_scopes="chat:write",
                user_id="U123",
            )
        )
        subscribe(
            db_engine,
            team_id,
            f"C{team_id}",
            time="09:00",
            timezone="UTC",
            days="daily",
            now=SUBSCRIBED,
        )
    return store


@pytest.fixture(autouse=True)
def env(db_url: str, slack: MockSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    claims = [
        claim_data(f"team-claim-{i}", f"Team claim {i}", f"Workspace test claim number {i}.")
        for i in range(6)
    ]
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "the-client-secret")
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    monkeypatch.setenv("AI_RACE_CLAIMS", str(write_store(tmp_path / "claims", claims)))
    monkeypatch.setenv("AI_RACE_DIGEST_CONFIG", str(config))


def posted_with(slack: MockSlack) -> list[str]:
    return sorted(c.headers["authorization"] for c in slack.calls_to("chat.postMessage"))


def test_each_workspace_gets_its_digest_with_its_own_token(
    slack: MockSlack, store: SQLAlchemyInstallationStore
) -> None:
    assert cli("digest", "run", "--at", "2026-11-24T09:05:00Z") == 0
    assert posted_with(slack) == sorted(f"Bearer {t}" for t in TOKENS.values())


def test_uninstalled_workspace_is_paused_and_others_still_get_theirs(
    slack: MockSlack, store: SQLAlchemyInstallationStore, db_engine: Engine
) -> None:
    store.delete_all(enterprise_id=None, team_id="T1")  # what app_uninstalled does
    pause_workspace_digests(db_engine, "T1", TokenLoss.APP_UNINSTALLED)
    assert cli("digest", "run", "--at", "2026-11-24T09:05:00Z") == 0
    assert posted_with(slack) == [f"Bearer {TOKENS['T2']}"]
    assert paused_by_team(db_engine) == {"T1": "app_uninstalled", "T2": None}


def test_a_subscription_without_any_installation_pauses_as_not_installed(
    slack: MockSlack, store: SQLAlchemyInstallationStore, db_engine: Engine
) -> None:
    store.delete_all(enterprise_id=None, team_id="T2")  # e.g. a row left from before
    assert cli("digest", "run", "--at", "2026-11-24T09:05:00Z") == 1  # T2's did not go out
    assert posted_with(slack) == [f"Bearer {TOKENS['T1']}"]
    assert paused_by_team(db_engine) == {"T1": None, "T2": TokenLoss.NOT_INSTALLED.value}


def test_a_refused_token_is_handled_like_an_uninstall(
    slack: MockSlack, store: SQLAlchemyInstallationStore, db_engine: Engine
) -> None:
    slack.invalid_tokens.add(TOKENS["T1"])
    cli("digest", "run", "--at", "2026-11-24T09:05:00Z")
    assert paused_by_team(db_engine) == {"T1": "invalid_auth", "T2": None}
    assert store.find_bot(enterprise_id=None, team_id="T1") is None
    assert store.find_bot(enterprise_id=None, team_id="T2") is not None


def test_the_miss_report_shows_one_workspace_at_a_time(
    db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    record_miss(db_engine, "T1", "quantum chips in orbit")
    record_miss(db_engine, "T2", "robot dogs for export")
    assert cli("report", "misses", "--team", "T1") == 0
    out = capsys.readouterr().out
    assert "quantum chips in orbit" in out and "robot dogs" not in out


def test_the_feedback_report_shows_one_workspace_at_a_time(
    db_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    for team_id, claim_id in (("T1", "claim-from-one"), ("T2", "claim-from-two")):
        key = VoteKey(team_id, "", "C1", "1.000001", claim_id, voter_hash(team_id, "U123"))
        record_vote(db_engine, key, Vote.HELPFUL, answer_kind=AnswerKind.PRIVATE, query="chips")
    assert cli("report", "feedback", "--team", "T2", "--format", "json") == 0
    out = capsys.readouterr().out
    assert "claim-from-two" in out and "claim-from-one" not in out
