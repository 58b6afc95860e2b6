"""Feedback on answers through the real Bolt app (signed requests, in-process) and the mock Slack.

Votes are clicked on buttons the app itself drew, so a change in what a button
carries breaks these tests, not just the parser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claim_factory import claim_data, write_store
from sqlalchemy import select

from bot.state.feedback import voter_hash
from bot.state.models import FeedbackVote
from tests.support.bolt_inprocess import InProcessApp, inprocess_app
from tests.support.cli import Ran, cli_runner
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, slash_command_body
from tests.support.slack_requests import block_action

CLAIMS = [
    claim_data(
        "chip-exports",
        "Chip export rules slow Chinese labs",
        "Export rules on advanced chips slow the training of frontier models in China.",
        aliases=["chip exports"],
    ),
    claim_data(
        "open-models",
        "Chinese labs lead in open-weight models",
        "Open-weight models from Chinese labs top the public download rankings.",
        aliases=["open weight models"],
    ),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def app(mock: MockSlack, db_url: str, tmp_path: Path) -> Iterator[InProcessApp]:
    mock.reset()
    with inprocess_app(mock.base_url, db_url, write_store(tmp_path / "claims", CLAIMS)) as running:
        yield running


_keys = iter(range(1_000_000))


def _posted_to(mock: MockSlack, key: str) -> dict[str, Any]:
    return mock.response_to(key)


def ask(app: InProcessApp, mock: MockSlack, text: str) -> dict[str, Any]:
    key = f"ask{next(_keys)}"
    body = slash_command_body(text, response_url=mock.response_url(key))
    assert app.dispatch(body, FORM).status == 200
    return _posted_to(mock, key)


def feedback_buttons(message: dict[str, Any], claim_id: str) -> dict[str, dict[str, Any]]:
    """The feedback buttons under one claim, by label."""
    found = {}
    for block in message["blocks"]:
        if block["type"] == "actions" and block.get("block_id") == f"claim:{claim_id}":
            for element in block["elements"]:
                if element["action_id"].startswith("feedback:"):
                    found[element["text"]["text"]] = {**element, "block_id": block["block_id"]}
    return found


def click(
    app: InProcessApp,
    button: dict[str, Any],
    *,
    user: str = "U123",
    message_ts: str = "1700000000.000100",
    response_key: str | None = None,
    mock: MockSlack,
) -> tuple[int, str]:
    key = response_key or f"click{next(_keys)}"
    payload = block_action(
        button["action_id"],
        button["value"],
        mock.response_url(key),
        block_id=button["block_id"],
        user=user,
        message_ts=message_ts,
    )
    response = app.interactive(payload)
    return response.status, key


def votes(app: InProcessApp) -> list[FeedbackVote]:
    with app.services.engine.connect() as connection:
        rows = connection.execute(select(FeedbackVote).order_by(FeedbackVote.id))
        return list(rows)


def wait_for_votes(app: InProcessApp, count: int) -> list[FeedbackVote]:
    """The listener opens the form before it writes (Slack's trigger_id lasts 3 s): wait for it."""
    deadline = time.monotonic() + 10
    while len(rows := votes(app)) < count:
        assert time.monotonic() < deadline, f"{len(rows)} of {count} votes recorded"
        time.sleep(0.01)  # polling a real condition, bounded by the deadline
    return rows


def test_every_answer_carries_the_three_buttons(app: InProcessApp, mock: MockSlack) -> None:
    answer = ask(app, mock, "chip exports")
    labels = set(feedback_buttons(answer, "chip-exports"))
    assert labels == {"Helpful", "Not what I asked", "Wrong or outdated"}


def test_a_vote_is_recorded_acknowledged_privately_and_replaced(
    app: InProcessApp, mock: MockSlack
) -> None:
    answer = ask(app, mock, "chip exports")
    buttons = feedback_buttons(answer, "chip-exports")
    status, key = click(app, buttons["Helpful"], mock=mock)
    assert status == 200
    thanks = _posted_to(mock, key)
    assert thanks["text"] == "Thanks — recorded"
    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False
    [row] = votes(app)
    assert (row.claim_id, row.vote, row.query, row.answer_kind) == (
        "chip-exports",
        "helpful",
        "chip exports",
        "private",
    )
    assert row.voter == voter_hash("T1", "U123") and "U123" not in json.dumps(
        [str(v) for v in row._mapping.values()]
    )

    # The same person changes their mind on the same answer: one row, the latest vote.
    status, key = click(app, buttons["Not what I asked"], mock=mock)
    _posted_to(mock, key)
    [row] = votes(app)
    assert row.vote == "not_asked"
    # Someone else, and the same person on another answer, are separate votes.
    _posted_to(mock, click(app, buttons["Helpful"], user="U999", mock=mock)[1])
    _posted_to(mock, click(app, buttons["Helpful"], message_ts="1700000001.1", mock=mock)[1])
    assert sorted(r.vote for r in votes(app)) == ["helpful", "helpful", "not_asked"]
    assert not mock.calls_to("chat.postMessage"), "feedback is never posted to the channel"


def view_submission(
    app: InProcessApp, view: dict[str, Any], note: str, url: str | None, user: str = "U123"
) -> dict[str, Any]:
    values = {
        "what_is_wrong": {"note": {"type": "plain_text_input", "value": note}},
        "better_source": {"url": {"type": "url_text_input", "value": url}},
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "trigger_id": "4.5.6",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
            "hash": "1.a",
        },
    }
    response = app.interactive(payload)
    assert response.status == 200
    return json.loads(response.body) if response.body else {}


def test_wrong_or_outdated_opens_a_form_whose_note_is_stored(
    app: InProcessApp, mock: MockSlack
) -> None:
    answer = ask(app, mock, "open weight models")
    button = feedback_buttons(answer, "open-models")["Wrong or outdated"]
    status, _ = click(app, button, mock=mock)
    assert status == 200
    [opened] = mock.wait_for("views.open")
    view = opened.params["view"]
    assert opened.params["trigger_id"] == "1.2.3" and view["type"] == "modal"
    assert "Chinese labs lead in open-weight models" in json.dumps(view, ensure_ascii=False)
    [row] = wait_for_votes(app, 1)
    assert row.vote == "wrong" and row.note is None  # the vote counts even if the form is closed

    # A bad address is refused in the form, field by field; nothing is lost or stored.
    refused = view_submission(app, view, "The ranking changed in March.", "not a url")
    assert refused["response_action"] == "errors" and "better_source" in refused["errors"]
    assert votes(app)[0].note is None
    empty = view_submission(app, view, "   ", None)
    assert set(empty["errors"]) == {"what_is_wrong"}

    done = view_submission(
        app, view, "The ranking changed in March.", "https://example.org/rankings-2027"
    )
    assert done["response_action"] == "update"
    assert "Thanks — recorded" in json.dumps(done["view"], ensure_ascii=False)
    [row] = votes(app)
    assert (row.claim_id, row.vote, row.note, row.source_url) == (
        "open-models",
        "wrong",
        "The ranking changed in March.",
        "https://example.org/rankings-2027",
    )
    assert not mock.calls_to("chat.postMessage")


def test_a_forged_or_stale_button_gets_a_polite_line_and_stores_nothing(
    app: InProcessApp, mock: MockSlack
) -> None:
    forged = {"action_id": "feedback:helpful", "block_id": "b", "value": "{not json"}
    status, key = click(app, forged, mock=mock)
    assert status == 200
    assert "no longer works" in _posted_to(mock, key)["text"]
    assert votes(app) == []


def test_thread_answers_and_digests_carry_the_buttons_too(app: InProcessApp) -> None:
    from datetime import date

    from bot.core import blocks

    store = app.services.current.store
    claim = store.get("chip-exports")
    assert claim is not None
    thread = blocks.public_answer_message(store, "chip exports", [claim])
    digest = blocks.digest_message([claim], date(2026, 11, 24), "UTC")
    for message, kind in ((thread, "thread"), (digest, "digest")):
        buttons = feedback_buttons(message.payload(), "chip-exports")
        assert len(buttons) == 3
        assert json.loads(buttons["Helpful"]["value"])["k"] == kind


# The report's SQL is dialect-neutral and its writes are covered on both databases above;
# four CLI runs per database cost more than a second run would prove.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_report_counts_people_and_feeds_the_evaluation(
    app: InProcessApp,
    mock: MockSlack,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = cli_runner(monkeypatch, capsys)

    def _ai_race(*args: str, database_url: str) -> Ran:
        return run(*args, DATABASE_URL=database_url)

    chips = feedback_buttons(ask(app, mock, "chip exports"), "chip-exports")
    models = feedback_buttons(ask(app, mock, "open weight models"), "open-models")
    for user in ("U1", "U2"):
        _posted_to(mock, click(app, chips["Helpful"], user=user, mock=mock)[1])
    _posted_to(mock, click(app, models["Not what I asked"], user="U1", mock=mock)[1])
    click(app, models["Wrong or outdated"], user="U3", mock=mock)
    [opened] = mock.wait_for("views.open")
    wait_for_votes(app, 4)
    view_submission(app, opened.params["view"], "Out of date.", None, user="U3")

    table = _ai_race("report", "feedback", database_url=db_url)
    assert table.returncode == 0, table.stderr
    assert "Out of date." in table.stdout
    for user in ("U1", "U2", "U3"):
        assert user not in table.stdout

    tsv = _ai_race("report", "feedback", "--format", "tsv", database_url=db_url)
    lines = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert lines[0] == ["query", "expected", "style", "source"]
    assert sorted(lines[1:]) == [
        ["chip exports", "chip-exports", "slack-question", "feedback:helpful"],
        ["open weight models", "", "slack-question", "feedback:not_asked"],
    ]
    # ...and `ai-race eval` reads them as they are, against the same claims.
    rows = tmp_path / "feedback.tsv"
    rows.write_text(tsv.stdout)
    claims = str(app.services.current.store.directory)
    evaluated = _ai_race("eval", "--claims", claims, str(rows), database_url=db_url)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "2 queries: 1 with an expected claim, 1 that should get no answer" in evaluated.stdout

    report = json.loads(
        _ai_race("report", "feedback", "--format", "json", database_url=db_url).stdout
    )
    by_claim = {entry["claim"]: entry for entry in report}
    assert by_claim["chip-exports"]["helpful"] == 2 and by_claim["chip-exports"]["people"] == 2
    assert by_claim["open-models"]["people"] == 2
    assert by_claim["open-models"]["notes"][0]["note"] == "Out of date."

    # The App Home lists the reported claim under "Needs review" for everyone.
    home = json.dumps(app.services.home().to_dict(), ensure_ascii=False)
    assert "Needs review" in home and "reported wrong or outdated by 1 person" in home
