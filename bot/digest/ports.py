"""What the digest runner is given from outside: claims, a renderer, tokens, a citation hook.

Kept apart from :mod:`bot.digest.runner` so the Slack command
(:mod:`bot.digest.command`) and the corrections runner can name these types
and helpers without importing the delivery machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Engine

from bot.core.schema import Claim
from bot.digest.ledger import load_rotation_history
from bot.digest.rotation import Rotatable, RotationPick, choose_claims
from bot.state.workspaces import TokenLoss

# (claims, local date, time-zone name) -> (fallback text, blocks); an object with
# ``payload() -> {"text", "blocks"}`` (bot.core.blocks.SlackMessage) is accepted too.
Renderer = Callable[[Sequence[Claim], date, str], Any]


class HasClaims(Protocol):
    """A claim store as the digest reads it: compact rows to rotate, bodies for the picks."""

    def rows(self) -> Sequence[Rotatable]: ...
    def get_many(self, claim_ids: Iterable[str]) -> list[Claim]: ...


StoreProvider = Callable[[], HasClaims]
# (team, channel, digest ts, claims) -> None: a posted digest's claims, recorded for corrections
Cited = Callable[[str, str, str, Sequence[Claim]], None]


class TokenSource(Protocol):
    """Each workspace's bot token, in multi-workspace mode (:mod:`bot.install.tokens`)."""

    def token(self, team_id: str) -> str | None: ...
    def forget(self, team_id: str, reason: TokenLoss) -> None: ...


def rendered(result: Any) -> tuple[str, list[dict[str, Any]]]:
    """``(text, blocks)`` from a renderer's result: a tuple, or a message with ``payload()``.

    ``bot.core.blocks.digest_message`` returns a ``SlackMessage``; accepting
    both lets either be injected without an adapter at every call site.
    """
    if hasattr(result, "payload"):
        payload = result.payload()
        return str(payload["text"]), list(payload.get("blocks") or [])
    text, blocks = result
    return str(text), list(blocks or [])


def plain_render(
    claims: Sequence[Claim], local_date: date, timezone: str
) -> tuple[str, list[dict[str, Any]]]:
    """A text-only renderer for ``--dry-run`` and tests; the app injects the Block Kit one."""
    lines = [f"AI race digest for {local_date:%A %d %B %Y}"]
    lines += [f"• {claim.title} ({claim.id})" for claim in claims]
    lines.append("Discuss in the thread.")
    return "\n".join(lines), []


def preview_pick(engine: Engine, claims: Sequence[Rotatable], sub: Any) -> RotationPick:
    """The claims the channel's next digest would carry (for ``digest preview``)."""
    with engine.connect() as connection:
        history = load_rotation_history(connection, sub.team_id, sub.channel_id)
    today = date.today()  # the next digest goes out today or soon after: close enough
    return choose_claims(claims, sub.claims_per_digest, history, topics=sub.topics, today=today)


__all__ = [
    "Cited",
    "HasClaims",
    "Renderer",
    "StoreProvider",
    "TokenSource",
    "plain_render",
    "preview_pick",
    "rendered",
]
