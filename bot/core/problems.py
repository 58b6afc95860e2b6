"""Problems found in files people edit by hand (claims, digest config).

A problem always names the file, the line and the field, because the person
fixing it is looking at a YAML file in an editor, not at a Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from bot.core.errors import AiRaceError

Loc = tuple[str | int, ...]


class Located(Protocol):
    """Anything that knows its path and the line of a field (a parsed YAML document)."""

    @property
    def path(self) -> Any: ...

    def line_of(self, loc: Loc) -> int | None: ...


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.field}: {self.message}"


class ProblemsError(AiRaceError):
    """Raised when files cannot be used; carries every problem, not just the first."""

    what = "the files have"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        head = "; ".join(str(p) for p in self.problems[:3])
        more = f" (and {count - 3} more)" if count > 3 else ""
        super().__init__(f"{count} problem(s): {head}{more}")

    def lines(self) -> list[str]:
        count = len(self.problems)
        return [*map(str, self.problems), f"{self.what} {count} problem(s)"]


class StoreError(ProblemsError):
    """The claim files have problems."""

    what = "the claim store has"


class ConfigError(ProblemsError):
    """config/digest.yaml has problems."""

    what = "the digest config has"


def field_name(loc: Loc) -> str:
    """``("sources", 0, "url")`` -> ``sources[0].url``: how a YAML author names a field."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(file)"


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling against the documented fields)"
    if kind == "missing":
        return "required field is missing"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_problems(doc: Located, exc: ValidationError) -> list[Problem]:
    """One Problem per pydantic error, each with the file, line and field it concerns."""
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
        problems.append(Problem(str(doc.path), doc.line_of(loc), field_name(loc), _message(error)))
    return problems
