"""config/digest.yaml: subscriptions the operator declares, validated like a claim file.

A typo here must read like one in a claim file — file, line, field, what to
do — so validation goes through :func:`bot.core.problems.validation_problems`
and raises :class:`~bot.core.problems.ConfigError`, the sibling of the claim
files' ``StoreError``. Loading is pure (file in, entries out); writing the
entries to the database is
:func:`bot.digest.subscriptions.sync_config_subscriptions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.errors import SettingsError
from bot.core.problems import ConfigError, Loc, Problem, field_name, validation_problems
from bot.core.yamlfile import YamlDocument, YamlSyntaxError, read_yaml
from bot.digest.kinds import Days
from bot.digest.schedule import DEFAULT_SCHEDULE, format_hhmm, load_zone, parse_hhmm

DEFAULT_CLAIMS_PER_DIGEST = 3
MAX_CLAIMS_PER_DIGEST = 10  # keeps a digest short and well inside Slack's 50-block limit
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "digest.yaml"


class ConfigSubscription(BaseModel):
    """One entry of config/digest.yaml (validated strictly: a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str | None = Field(default=None, pattern=r"^[TE][A-Z0-9]+$")
    channel: str = Field(pattern=r"^[CG][A-Z0-9]+$")
    time: str = DEFAULT_SCHEDULE.time
    timezone: str = DEFAULT_SCHEDULE.timezone
    days: Days = Days(DEFAULT_SCHEDULE.days)
    claims_per_digest: int = Field(
        default=DEFAULT_CLAIMS_PER_DIGEST, ge=1, le=MAX_CLAIMS_PER_DIGEST
    )
    topics: list[str] | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 9:30 as the base-60 number 570.
            raise ValueError('YAML read this as a number; quote the time, e.g. time: "09:30"')
        if isinstance(value, str):
            return format_hhmm(parse_hhmm(value))
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = sorted({t.strip().lower() for t in value if t.strip()})
        return cleaned or None


class DigestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptions: list[ConfigSubscription] = Field(default_factory=list)


def load_digest_config(
    path: Path | None = None,
    *,
    default_team_id: str | None = None,
    require_team: bool = True,
) -> list[ConfigSubscription]:
    """Validate the digest config; every problem is reported with file, line and field.

    ``path`` is ``AI_RACE_DIGEST_CONFIG`` (:attr:`bot.settings.Settings.digest_config`):
    when given, it must exist — a mistyped path must not silently delete
    every config subscription at the next sync. Without it, the repository's
    config/digest.yaml is read if present. An empty file declares nothing. Entries without
    ``team`` get ``default_team_id`` (the workspace the token belongs to);
    with ``require_team=False`` they are returned with ``team=None`` so the
    caller can decide whether it needs to ask Slack. Raises
    :class:`ConfigError` listing all problems.
    """
    if path is not None and not path.is_file():
        what = "a directory" if path.is_dir() else "not there"
        raise SettingsError(
            f"AI_RACE_DIGEST_CONFIG is {path}, which is {what}: "
            "point it at your digest.yaml, or unset it to use config/digest.yaml"
        )
    path = path or REPO_CONFIG
    if not path.exists():
        return []
    doc, config = _parse(path)
    problems: list[Problem] = []
    entries: list[ConfigSubscription] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(config.subscriptions):
        team = entry.team or default_team_id
        problem = _entry_problem(doc, index, entry.channel, team, require_team, seen)
        if problem is not None:
            problems.append(problem)
            continue
        seen[(team or "", entry.channel)] = index
        entries.append(entry.model_copy(update={"team": team}))
    if problems:
        raise ConfigError(problems)
    return entries


def _entry_problem(
    doc: YamlDocument,
    index: int,
    channel: str,
    team: str | None,
    require_team: bool,
    seen: dict[tuple[str, str], int],
) -> Problem | None:
    """What is wrong with entry ``index`` beyond its fields: no workspace, or a repeat."""
    if team is None and require_team:
        return _problem(
            doc,
            ("subscriptions", index),
            "no team given and the workspace is unknown; add team: T…",
            field=("subscriptions", index, "team"),
        )
    earlier = seen.get((team or "", channel))
    if earlier is not None:
        return _problem(
            doc,
            ("subscriptions", index, "channel"),
            f"channel {channel} is already declared in entry {earlier}",
        )
    return None


def _parse(path: Path) -> tuple[YamlDocument, DigestConfig]:
    """The document and its validated content; ConfigError with every problem found."""
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise ConfigError([Problem(str(path), exc.line, "(file)", exc.message)]) from exc
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([_problem(doc, (), "must be a mapping with 'subscriptions:'", line=1)])
    if data.get("subscriptions") is None:
        data = {**data, "subscriptions": []}
    try:
        return doc, DigestConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc, DigestConfig)) from exc


def _problem(
    doc: YamlDocument,
    loc: Loc,
    message: str,
    *,
    field: Loc | None = None,
    line: int | None = None,
) -> Problem:
    where = line if line is not None else doc.line_of(loc)
    return Problem(str(doc.path), where, field_name(field if field is not None else loc), message)


__all__ = [
    "DEFAULT_CLAIMS_PER_DIGEST",
    "MAX_CLAIMS_PER_DIGEST",
    "REPO_CONFIG",
    "ConfigSubscription",
    "DigestConfig",
    "load_digest_config",
]
