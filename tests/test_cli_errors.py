"""Every user mistake or unreachable service is one line and an exit code, never a traceback.

Run in-process through :func:`bot.cli.main` (an escaping exception fails the
test), with the environment the real command would see.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from bot.digest.subscriptions import list_subscriptions, subscribe
from bot.state.db import make_engine, migrate
from tests.support.app_server import free_port

TOKEN = "xoxb-1234-never-print"
SECRET = "abcdef0123456789abcdef"
SUBSCRIBED = datetime(2026, 11, 1, tzinfo=UTC)  # before the --at instants used here


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment in an empty working directory (where the SQLite default would go)."""
    for name in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_API_URL", "AI_RACE_DIGEST_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, prefix: str) -> str:
    assert err.count("\n") == 1 and err.startswith(prefix), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "DATABASE_URL is malformed: expected sqlite:///"),
        ("mysql://x", "DATABASE_URL uses 'mysql', which is not supported"),
    ],
)
@pytest.mark.parametrize("argv", [("digest", "list"), ("report", "misses"), ("digest", "run")])
def test_a_bad_database_url_is_a_settings_error(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    message: str,
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    code, _, err = run(capsys, *argv)
    assert code == 2
    one_line(err, f"ai-race {argv[0]}: {message}")


@pytest.mark.parametrize(
    "argv",
    [("digest", "list"), ("digest", "run"), ("digest", "run", "--dry-run"), ("report", "misses")],
)
def test_an_unreachable_database_is_one_line_without_the_password(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:hunter2@127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    code, _, err = run(capsys, *argv)
    assert code == 1
    line = one_line(
        err, f"ai-race {argv[0]}: cannot use the database postgresql+psycopg://bot:***@"
    )
    assert "check DATABASE_URL" in line and "hunter2" not in line


def test_an_unreachable_slack_names_the_network_not_the_token(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = env / "digest.yaml"
    config.write_text("subscriptions:\n  - channel: C1\n")  # no team: auth.test must answer
    monkeypatch.setenv("AI_RACE_DIGEST_CONFIG", str(config))
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    code, _, err = run(capsys, "digest", "run")
    assert code == 1
    line = one_line(err, "ai-race digest: Slack could not be reached at http://127.0.0.1:")
    assert "SLACK_API_URL" in line and TOKEN not in line


def test_a_port_in_use_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert code == 1
    one_line(err, f"ai-race serve: cannot listen on 127.0.0.1:{port} (Address already in use)")


def test_a_missing_digest_config_is_an_error_not_an_empty_one(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AI_RACE_DIGEST_CONFIG", str(env / "digest.yml"))
    code, _, err = run(capsys, "digest", "run", "--dry-run")
    assert code == 2
    one_line(err, f"ai-race digest: AI_RACE_DIGEST_CONFIG is {env / 'digest.yml'}, which is not")


def test_read_only_commands_create_no_database(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "digest", "list")[:2] == (0, "no digest subscriptions (no database yet)\n")
    assert run(capsys, "report", "misses")[0] == 0
    assert run(capsys, "digest", "run", "--dry-run")[0] == 0
    assert list(env.iterdir()) == []


def test_dry_run_shows_the_config_and_writes_nothing(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{env / 'state.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    subscribe(engine, "T1", "CSLACK", time="09:00", timezone="UTC", days="daily", now=SUBSCRIBED)
    config = env / "digest.yaml"
    config.write_text("subscriptions:\n  - {channel: CCONF, team: T1, days: daily}\n")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AI_RACE_DIGEST_CONFIG", str(config))
    before = config.stat().st_mtime_ns, (env / "state.sqlite3").read_bytes()
    # A new entry counts from its sync (here: the run's instant, the 09:00 slot itself).
    code, out, _ = run(capsys, "digest", "run", "--dry-run", "--at", "2026-11-24T09:00:00Z")
    assert code == 0
    assert "would post to T1/CCONF 2026-11-24" in out and "would post to T1/CSLACK" in out
    assert [s.channel_id for s in list_subscriptions(engine)] == ["CSLACK"]  # not synced
    engine.dispose()
    assert (config.stat().st_mtime_ns, (env / "state.sqlite3").read_bytes()) == before


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"ai-race {__version__}\n"


def test_help_imports_nothing_heavy() -> None:
    """``ai-race --help`` must not load the database, numpy, pydantic or the Slack stack."""
    probe = (
        "import sys, contextlib, io\n"
        "from bot.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "heavy = {'sqlalchemy', 'numpy', 'pydantic', 'slack_bolt', 'gunicorn', 'rapidfuzz'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.strip() == "[]"


def test_ask_at_a_terminal_without_a_query_prints_usage_instead_of_waiting() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "ask"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ai-race ask")
    assert done.stderr.splitlines()[-1] == "ai-race ask: give a query, or pipe one query per line"
