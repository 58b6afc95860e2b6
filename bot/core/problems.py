"""Problems found in files people edit by hand (claims, digest config).

A problem always names the file, the line and the field, because the person
fixing it is looking at a YAML file in an editor, not at a Python traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ValidationError

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


def fields_at(model: type[BaseModel] | None, loc: Loc) -> list[str]:
    """The field names a model allows at ``loc`` (through lists and optional sub-models)."""
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Any, known: Sequence[str] = ()) -> str:
    """Pydantic's error in our words: what is wrong and how to fix it."""
    kind = error.get("type", "")
    loc = error.get("loc") or ()
    name = str(loc[-1]) if loc else "value"
    value = error.get("input")
    if kind == "extra_forbidden":
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        if guess:
            return f"unknown field {name!r} — did you mean {guess[0]!r}?"
        return f"unknown field {name!r} (check the spelling against the documented fields)"
    if kind == "missing":
        return "required field is missing"
    if kind.startswith(("date_", "datetime_")):
        return f"expected a date like 2026-11-24, got {value!r}"
    if kind == "string_too_long" and isinstance(value, str):
        limit = (error.get("ctx") or {}).get("max_length")
        return f"{name} is {len(value)} characters; the limit is {limit}"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_problems(
    doc: Located, exc: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """One Problem per pydantic error, each with the file, line and field it concerns.

    With ``model`` (the one that was validated), an unknown field is matched
    against the names allowed where it stands: "did you mean 'entities'?".
    """
    problems = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
        known = fields_at(model, loc[:-1])
        message = _message(error, known)
        problems.append(Problem(str(doc.path), doc.line_of(loc), field_name(loc), message))
    return problems
