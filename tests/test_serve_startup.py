"""``ai-race serve`` refuses to start with one clear line, and never prints a secret.

Most cases run the command line in-process (``bot.cli.main``, the same code
path minus a new interpreter); the wording of each settings problem is tested
directly on ``load_settings`` in ``tests/test_settings.py``. One case runs as a
real process, because what it checks is what a process prints: an unreachable
Slack is one line on stderr, with bolt's and slack_sdk's log lines silenced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.store import REPO_CLAIMS
from tests.support.app_server import free_port
from tests.support.cli import Ran, Runner, cli_runner

TOKEN = "xoxb-1234-do-not-print-me"
SECRET = "abcdef0123456789abcdef"


def _environment(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """The variables ``serve`` needs, with ``env`` applied ("" removes one)."""
    base = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",  # nothing listens there
    }
    return {key: value for key, value in {**base, **env}.items() if value != ""}


@pytest.fixture
def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Runner:
    """Run ``ai-race serve`` in-process with ``env``; its exit code and what it printed."""
    run = cli_runner(monkeypatch, capsys)

    def serve(**env: str) -> Ran:
        unset = dict.fromkeys(("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL"), "")
        settings = {**unset, **_environment(tmp_path, env)}
        return run("serve", "--port", str(free_port()), **settings)

    return serve


def serve_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **_environment(tmp_path, env)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN is malformed"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL is malformed"),
    ],
)
def test_settings_problems_name_the_setting(
    serve: Runner, env: dict[str, str], expected: str
) -> None:
    done = serve(**env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"ai-race serve: {expected}")
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stderr + done.stdout and SECRET not in done.stderr + done.stdout


def test_unreachable_slack_is_one_line(tmp_path: Path) -> None:
    done = serve_process(tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("ai-race serve: Slack could not be reached at http://127.0.0.1:")
    assert done.stderr.count("\n") == 1  # one line, not bolt's and slack_sdk's log lines too
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


def test_unreachable_database_is_one_line_without_password(serve: Runner) -> None:
    url = f"postgresql://bot:hunter2@127.0.0.1:{free_port()}/nothing"
    done = serve(DATABASE_URL=url)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ai-race serve: cannot use the database")
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_broken_claim_store_refuses_to_start(tmp_path: Path, serve: Runner) -> None:
    claims = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, claims)
    path = claims / "sora2-audio-tell.yaml"
    path.write_text(path.read_text().replace("summary:", "sumary: x\nsummary:", 1))
    done = serve(AI_RACE_CLAIMS=str(claims))
    assert done.returncode == 1
    assert f"{path}:" in done.stderr and "sumary: unknown field" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("ai-race serve: the claim store has 1 problem")
