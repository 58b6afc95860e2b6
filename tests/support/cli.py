"""Run the ``ai-race`` command line in-process, as a test would run it in a shell.

``bot.cli.main`` with the given arguments, environment and standard input;
the result looks like ``subprocess.run``'s (exit code, stdout, stderr), so a
test can switch between this and a real process. In-process saves a new
interpreter and the import of numpy, pydantic and the matcher per call; a test
that checks what a *process* does (signals, exit on a closed pipe, start-up
time, stderr from logging) still runs ``python -m bot``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bot.cli import main


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[..., Ran]


def cli_runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``run(*args, stdin=None, **env)``; ``env`` values of "" remove the variable."""

    def run(*args: str, stdin: str | None = None, **env: str) -> Ran:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                if value == "":
                    patch.delenv(name, raising=False)
                else:
                    patch.setenv(name, value)
            patch.setattr("sys.stdin", io.StringIO(stdin or ""))
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors, --help, --version
                code = exit_.code if isinstance(exit_.code, int) else 1
            out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run
