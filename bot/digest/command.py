"""``/ai-race digest …``: parse the text, then carry it out for one channel.

Parsing is strict and the errors are written for the person who typed the
command: they name the token that was not understood and show a working
example, because a slash command has no man page.

Grammar (after ``digest``)::

    on [HH:MM] [IANA time zone] [weekdays|daily] [claims=N] [topics=a,b|all]
    off | status | preview

The options after ``on`` may come in any order; ``9:00`` and ``09:00`` both
work. An empty text means ``status``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import available_timezones

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.digest.config_file import DEFAULT_CLAIMS_PER_DIGEST, MAX_CLAIMS_PER_DIGEST
from bot.digest.kinds import NOT_GIVEN, NotGiven
from bot.digest.runner import Renderer, StoreProvider, preview_pick, rendered
from bot.digest.schedule import (
    DEFAULT_SCHEDULE,
    format_hhmm,
    load_zone,
    local_time,
    next_digest,
    next_run,
    parse_hhmm,
)
from bot.digest.subscriptions import (
    digest_status,
    get_subscription,
    schedule_anchor,
    subscribe,
    unsubscribe,
)
from bot.digest.wording import days_phrase, describe_status
from bot.state.models import utcnow

log = logging.getLogger(__name__)

EXAMPLE = "/ai-race digest on 09:00 Europe/Berlin weekdays"
USAGE = (
    "Usage: `/ai-race digest on [HH:MM] [time zone] [weekdays|daily]`, "
    "`/ai-race digest off`, `/ai-race digest status`, `/ai-race digest preview`. "
    f"Example: `{EXAMPLE}`"
)
_TIME_LIKE = re.compile(r"^\d{1,2}[:.h]\d{1,2}$|^\d{1,2}:\d+$|^\d{3,4}$")
_DAYS_WORDS = {
    "weekdays": "weekdays",
    "weekday": "weekdays",
    "workdays": "weekdays",
    "daily": "daily",
    "everyday": "daily",
    "every-day": "daily",
}

Action = Literal["on", "off", "status", "preview"]


class DigestCommandError(ValueError):
    """The command text could not be used; ``str(error)`` is the message for the user."""


@dataclass(frozen=True)
class DigestCommand:
    """A parsed ``digest`` command; options are None when not given."""

    action: Action
    time: str | None = None
    timezone: str | None = None
    days: str | None = None
    claims_per_digest: int | None = None
    topics: tuple[str, ...] | None = None
    clear_topics: bool = False


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def canonical_timezone(token: str) -> str | None:
    """The IANA name for ``token`` (case-insensitive; ``utc``/``gmt`` allowed), or None."""
    if token.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    try:
        load_zone(token)
        return token
    except ValueError:
        return _zones_by_lower_name().get(token.lower())


def parse_digest_command(text: str) -> DigestCommand:
    """Parse the text after ``/ai-race digest``; raise :class:`DigestCommandError` if unusable."""
    tokens = text.split()
    if tokens and tokens[0].lower() == "digest":
        tokens = tokens[1:]
    if not tokens:
        return DigestCommand("status")
    action, options = tokens[0].lower(), tokens[1:]
    if action in ("off", "status", "preview"):
        if options:
            raise DigestCommandError(
                f"`{action}` takes no options, but got `{' '.join(options)}`. {USAGE}"
            )
        return DigestCommand(action)  # type: ignore[arg-type]
    if action != "on":
        raise DigestCommandError(f"I don't know the digest command `{tokens[0]}`. {USAGE}")
    found: dict[str, Any] = {}
    for token in options:
        name, value = _option(token)
        if name in found:
            raise DigestCommandError(
                f"`{token}` gives the {name} a second time. Example: `{EXAMPLE}`"
            )
        found[name] = value
    chosen: tuple[str, ...] | None = found.get("topics")
    return DigestCommand(
        "on",
        time=found.get("time"),
        timezone=found.get("timezone"),
        days=found.get("days"),
        claims_per_digest=found.get("claims"),
        topics=chosen or None,
        clear_topics=chosen == (),
    )


def _option(token: str) -> tuple[str, Any]:
    """One option of ``digest on`` as ``(name, value)``; the error names the token."""
    lower = token.lower()
    if lower in _DAYS_WORDS:
        return "days", _DAYS_WORDS[lower]
    if lower.startswith("claims="):
        return "claims", _claims(token)
    if lower.startswith("topics="):
        return "topics", _topics(token)
    if _TIME_LIKE.match(token):
        try:
            return "time", format_hhmm(parse_hhmm(token))
        except ValueError:
            raise DigestCommandError(
                f"`{token}` is not a time of day. Use 24-hour HH:MM from 00:00 to 23:59, "
                f"e.g. `{EXAMPLE}`."
            ) from None
    zone = canonical_timezone(token)
    if zone is None:
        what = "time zone" if "/" in token or token.isalpha() else "option"
        raise DigestCommandError(
            f"I don't know the {what} `{token}`. Time zones are IANA names such as "
            f"`Europe/Berlin`, `America/New_York`, `Asia/Shanghai` or `UTC`. "
            f"Example: `{EXAMPLE}`"
        )
    return "timezone", zone


def _claims(token: str) -> int:
    value = token.lower().partition("=")[2]
    if not value.isdigit() or not 1 <= int(value) <= MAX_CLAIMS_PER_DIGEST:
        raise DigestCommandError(
            f"`{token}`: the number of claims must be 1 to {MAX_CLAIMS_PER_DIGEST}, "
            f"e.g. `claims={DEFAULT_CLAIMS_PER_DIGEST}`."
        )
    return int(value)


def _topics(token: str) -> tuple[str, ...]:
    """``topics=a,b`` → ``("a", "b")``; ``topics=all`` → ``()`` (remove the filter)."""
    value = token.lower().partition("=")[2]
    # Slash text is split on spaces, so multi-word topics use underscores.
    topics = tuple(sorted({t.strip().replace("_", " ") for t in value.split(",") if t.strip()}))
    if not topics:
        raise DigestCommandError(
            f"`{token}`: list topics separated by commas, e.g. "
            "`topics=chips,export_controls`; `topics=all` removes the filter."
        )
    return () if topics == ("all",) else topics


@dataclass(frozen=True)
class CommandReply:
    """What to send back (ephemerally) to the person who ran the command."""

    text: str
    blocks: list[dict[str, Any]] | None = None


def handle_digest_command(
    text: str,
    *,
    engine: Engine,
    team_id: str,
    channel_id: str,
    user_id: str | None,
    client: WebClient | None,
    store_provider: StoreProvider,
    render: Renderer,
    now: datetime | None = None,
) -> CommandReply:
    """Run ``/ai-race digest <text>`` for one channel and return the ephemeral reply.

    Never raises for bad input: the user gets the parser's message instead.
    Call it from a lazy listener — ``on`` may call ``users.info`` for the
    default time zone.
    """
    try:
        command = parse_digest_command(text)
    except DigestCommandError as exc:
        return CommandReply(str(exc))
    when = now or utcnow()
    if command.action == "off":
        return CommandReply(OFF_REPLIES[unsubscribe(engine, team_id, channel_id)])
    if command.action == "status":
        status = digest_status(engine, team_id, channel_id, when)
        return CommandReply(describe_status(status) if status else NOT_SUBSCRIBED)
    asker = _Asker(engine, team_id, channel_id, user_id, client)
    if command.action == "preview":
        return _preview(asker, store_provider, render, when)
    return _turn_on(command, asker, when)


@dataclass(frozen=True)
class _Asker:
    """Where the command was run and by whom, with what to answer through."""

    engine: Engine
    team_id: str
    channel_id: str
    user_id: str | None
    client: WebClient | None

    def timezone(self) -> str:
        return resolve_default_timezone(self.client, self.user_id)


NOT_SUBSCRIBED = f"This channel has no daily digest. Turn it on with `{EXAMPLE}`."
OFF_REPLIES = {
    "removed": "Daily digest turned off for this channel.",
    "paused": "Daily digest paused for this channel. It is declared in "
    "config/digest.yaml; an operator can remove it there.",
    "absent": NOT_SUBSCRIBED,
}


def _turn_on(command: DigestCommand, asker: _Asker, when: datetime) -> CommandReply:
    """``digest on``: subscribe, then announce the first digest by the runner's own rule."""
    engine, team_id, channel_id = asker.engine, asker.team_id, asker.channel_id
    existing = get_subscription(engine, team_id, channel_id)
    timezone = command.timezone
    if timezone is None and existing is None:
        timezone = asker.timezone()
    topics: list[str] | NotGiven = NOT_GIVEN
    if command.topics or command.clear_topics:
        topics = list(command.topics or ())
    sub = subscribe(
        engine,
        team_id,
        channel_id,
        time=command.time,
        timezone=timezone,
        days=command.days,
        claims_per_digest=command.claims_per_digest,
        created_by=asker.user_id,
        topics=topics,
        now=when,
    )
    status = digest_status(engine, team_id, channel_id, when)
    first = status.next_run if status and status.next_run else next_run(sub, when)
    verb = "updated" if existing is not None else "on"
    return CommandReply(
        f"Daily digest {verb}: {sub.claims_per_digest} claims at {sub.time} {sub.timezone} "
        f"{days_phrase(sub.days)}. {'Next' if existing else 'First'} one: "
        f"{local_time(sub, first):%a %d %b, %H:%M %Z}. "
        "Change it with the same command, stop it with `/ai-race digest off`."
    )


def _preview(
    asker: _Asker, store_provider: StoreProvider, render: Renderer, now: datetime
) -> CommandReply:
    engine = asker.engine
    sub: Any = get_subscription(engine, asker.team_id, asker.channel_id)
    if sub is None:
        sub = _PreviewSub(asker.team_id, asker.channel_id, timezone=asker.timezone())
    store = store_provider()
    pick = preview_pick(engine, store.rows(), sub)
    if not pick.claims:
        return CommandReply("There are no claims for this channel's digest yet.")
    since = schedule_anchor(sub) or now  # not subscribed: as if it were now
    day = local_time(sub, next_digest(sub, now, since)).date()
    text, blocks = rendered(render(store.get_many(pick.claim_ids), day, sub.timezone))
    return CommandReply(text, blocks or None)


@dataclass(frozen=True)
class _PreviewSub:
    """Defaults for previewing a channel that has not subscribed yet."""

    team_id: str
    channel_id: str
    timezone: str
    time: str = DEFAULT_SCHEDULE.time
    days: str = DEFAULT_SCHEDULE.days
    claims_per_digest: int = DEFAULT_CLAIMS_PER_DIGEST
    topics: list[str] | None = None


def resolve_default_timezone(client: WebClient | None, user_id: str | None) -> str:
    """The user's Slack time zone (``users.info`` → ``tz``), else UTC.

    Any failure (no scope, unknown user, Slack down, a zone this machine does
    not know) falls back to UTC: subscribing must not fail over a default.
    """
    fallback = DEFAULT_SCHEDULE.timezone
    if client is None or not user_id:
        return fallback
    try:
        tz = (client.users_info(user=user_id).get("user") or {}).get("tz")
        if isinstance(tz, str) and tz:
            load_zone(tz)
            return tz
    except (SlackApiError, ValueError, OSError) as exc:
        log.info("no time zone for user %s (%s); using UTC", user_id, type(exc).__name__)
    return fallback
