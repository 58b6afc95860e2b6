"""A claim change reaches everything the real server answers with, from every process.

Over HTTP the web workers only acknowledge and hand jobs over; each worker's
answer process watches the claim files and answers from them (bot.serve,
bot.answer_process). Here ``ai-race serve`` runs with two workers, a claim file
is edited in place and another one added, and then answers, the App Home, the
"Wrong or outdated" form and ``/healthz`` all show the change, and exactly one
watcher per worker patched its catalog: the answer processes, not the workers.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from claim_factory import claim_data, write_store

from tests.support import signing
from tests.support.app_server import RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.polling import wait_until
from tests.support.signing import FORM
from tests.support.slack_requests import (
    HttpTarget,
    block_action,
    buttons,
    command,
    event,
    key,
    strings,
)

WORKERS = 2
OLD_TITLE, NEW_TITLE = "Chip export rules were tightened", "Chip export rules were loosened"


@pytest.fixture
def served(mock: MockSlack, tmp_path: Path) -> Iterator[tuple[RunningApp, Path]]:
    claims = write_store(
        tmp_path / "claims",
        [
            claim_data("chip-rules", OLD_TITLE, "Export rules changed.", topics=["chips"]),
            claim_data("open-models", "Open weight models lead", "Open models lead the rankings."),
        ],
    )
    env = {
        "AI_RACE_CLAIMS": str(claims),
        "AI_RACE_CACHE": str(tmp_path / "cache"),
        "AI_RACE_RELOAD_SECONDS": "1",
    }
    database = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    with running_app(mock.base_url, database, tmp_path, workers=WORKERS, **env) as app:
        yield app, claims


def _health(app: RunningApp) -> dict[str, Any]:
    with urllib.request.urlopen(f"{app.url}/healthz", timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


def _patched(app: RunningApp) -> int:
    """Watchers that logged a patch for both changed files (one line each)."""
    return app.log().count("claim store patched: 2 files")


def _wrong_form_title(target: HttpTarget, mock: MockSlack, answer: dict[str, Any]) -> str:
    """Click "Wrong or outdated" under the answer's chip-rules claim; the form's text."""
    wrong = next(
        b
        for b in buttons(answer)
        if b["action_id"] == "feedback:wrong" and '"c":"chip-rules"' in b["value"]
    )
    payload = block_action(
        wrong["action_id"], wrong["value"], mock.response_url(key("wrong")), message_ts="1.1"
    )
    assert target.send(signing.interactive_body(payload), FORM)[0] == 200
    [opened] = mock.wait_for("views.open")
    return json.dumps(opened.params["view"], ensure_ascii=False)


def test_a_claim_change_is_served_by_every_answering_process(
    served: tuple[RunningApp, Path], mock: MockSlack
) -> None:
    app, claims = served
    target = HttpTarget(app.events_url)
    mock.reset()
    assert OLD_TITLE in json.dumps(command(target, mock, "chip export rules"))
    assert _health(app)["claims"] == 2

    edited = claims / "chip-rules.yaml"
    data = yaml.safe_load(edited.read_text())
    edited.write_text(yaml.safe_dump({**data, "title": NEW_TITLE}, sort_keys=False))  # in place
    video = claim_data(
        "video-models",
        "Video models",
        "Models now make short video clips from text.",
        topics=["video"],
    )
    added = write_store(claims / "new", [video])
    (added / "video-models.yaml").replace(claims / "video-models.yaml")  # whole, at once
    wait_until(
        "every answer process patched both files", lambda: _patched(app) >= WORKERS, 60, app.log
    )

    # Whichever worker takes a request, its answer comes from the changed claims.
    for _ in range(3 * WORKERS):
        answer = command(target, mock, "chip export rules")
        assert NEW_TITLE in json.dumps(answer) and OLD_TITLE not in json.dumps(answer)
        # The count the worker's answer process reported, just after it logged the patch.
        wait_until("/healthz counts the added claim", lambda: _health(app)["claims"] == 3, 10)
    assert NEW_TITLE in _wrong_form_title(target, mock, answer)

    home = {"type": "app_home_opened", "user": "U55", "channel": "D1", "tab": "home"}
    assert event(target, home, "EvHomeAfterReload")[0] == 200
    view = mock.wait_for("views.publish")[0].params["view"]
    shown = "\n".join(strings(view["blocks"]))
    assert "video (1)" in shown and "(3 claims)" in shown

    # One watcher per worker, in its answer process: a web worker keeps no catalog to patch.
    assert _patched(app) == WORKERS
