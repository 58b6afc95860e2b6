"""One family for everything a user can cause or fix, so every command fails the same way.

Each error is one line that names the fix and is safe to print (it never holds
a token, a secret or a password), and carries the exit code the command
line returns for it::

    AiRaceError                   one line, safe to print; exit 1
     ├── UsageError               the command line is wrong                        exit 2
     │    └── SettingsError       an environment variable is missing or malformed  exit 2
     ├── ProblemsError            hand-edited files have problems (``.problems``)  exit 1
     │    ├── StoreError          claim files              (bot.core.problems)
     │    └── ConfigError         config/digest.yaml       (bot.core.problems)
     └── UnavailableError         a service cannot be used                         exit 1
          ├── DatabaseError       DATABASE_URL unreachable or unusable
          └── SlackUnavailable    Slack refused the token or could not be reached

Library exceptions (SQLAlchemy's, slack_sdk's, ``OSError``) are turned into
these where the library is called, never in the command line, so that
:func:`report` is the one place that prints them: Python tracebacks are for
our bugs only.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class AiRaceError(Exception):
    """The root: a one-line message for a person, and the exit code that goes with it."""

    exit_code = EXIT_PROBLEMS

    def lines(self) -> list[str]:
        """What to print, one line each; the last line is the summary."""
        return [str(self)]


class UsageError(AiRaceError):
    exit_code = EXIT_USAGE


class SettingsError(UsageError):
    """One line, naming the setting; never the value (it may be a secret)."""


class UnavailableError(AiRaceError):
    """A service this command needs cannot be used right now."""


class DatabaseError(UnavailableError):
    pass


class SlackUnavailable(UnavailableError):
    pass


def report(error: AiRaceError, prog: str, stream: TextIO | None = None) -> int:
    """Print ``error`` (its problem lines as they are, the summary after ``prog:``); exit code."""
    out = stream if stream is not None else sys.stderr
    *details, summary = error.lines()
    for line in details:
        print(line, file=out)
    print(f"{prog}: {summary}", file=out)
    return error.exit_code


F = TypeVar("F", bound=Callable[..., int])


def command(prog: str) -> Callable[[F], F]:
    """Wrap a command handler so an :class:`AiRaceError` becomes its lines and exit code."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> int:
            try:
                return handler(*args, **kwargs)
            except AiRaceError as exc:
                return report(exc, prog)

        return run  # type: ignore[return-value]

    return wrap


__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "AiRaceError",
    "DatabaseError",
    "SettingsError",
    "SlackUnavailable",
    "UnavailableError",
    "UsageError",
    "command",
    "report",
]
