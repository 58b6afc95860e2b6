"""Run ``ai-race serve`` (gunicorn, the production server) as a real subprocess for tests."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-test-token"


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``): gunicorn's workers, answer processes."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200 and json.load(response).get("ok") is True
    except OSError:
        return False


@contextlib.contextmanager
def running_app(
    api_url: str, database_url: str, workdir: Path, *, workers: int = 2, **env: str
) -> Iterator[RunningApp]:
    """Start the server, wait for /healthz (bounded), and stop it afterwards."""
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    environment = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "bot",
        "-v",
        "serve",
        "--host",
        "127.0.0.1",
        "--workers",
        str(workers),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    try:
        while not _ready(app.url):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{app.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 30 s:\n{app.log()}")
            time.sleep(0.05)  # readiness polling of a starting process, bounded by the deadline
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
