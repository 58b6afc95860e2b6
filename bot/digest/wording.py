"""What ``digest status`` says, in words for the person in the channel.

Kept apart from the repository so the wording can change without touching
SQL, and so the repository stays free of anything a user reads.
"""

from __future__ import annotations

from bot.digest.kinds import Days, Source
from bot.digest.schedule import local_time
from bot.digest.subscriptions import DigestStatus

PAUSE_HELP = {
    "channel_not_found": "Slack cannot find this channel (deleted, or the app lost access).",
    "not_in_channel": "the app is not a member of this channel — invite it, then run "
    "`/ai-race digest on`.",
    "is_archived": "the channel is archived — unarchive it, then run `/ai-race digest on`.",
    "account_inactive": "the app's Slack account is deactivated — reinstall the app.",
    "invalid_auth": "the app's token was rejected — reinstall the app.",
    "token_revoked": "the app's token was revoked — reinstall the app.",
    "tokens_revoked": "the app's token was revoked — reinstall the app to resume.",
    "app_uninstalled": "the app was uninstalled from this workspace — reinstall it to resume.",
    "not_installed": "the app is not installed in this workspace — install it to resume.",
    "off": "turned off with `/ai-race digest off` (it is declared in config/digest.yaml; "
    "remove it there to delete it, or run `/ai-race digest on` to resume).",
}


def days_phrase(days: str, *, long: bool = False) -> str:
    """``weekdays`` → "weekdays (Mon–Fri)"/"on weekdays"; ``daily`` → "every day"."""
    if days == Days.WEEKDAYS:
        return "weekdays (Mon–Fri)" if long else "on weekdays"
    return "every day"


def describe_status(status: DigestStatus) -> str:
    """Schedule, then the pause reason or the next digest, then the last delivery."""
    sub = status.subscription
    topics = f", topics: {', '.join(sub.topics)}" if sub.topics else ""
    origin = " (declared in config/digest.yaml)" if sub.source == Source.CONFIG else ""
    plural = "s" if sub.claims_per_digest != 1 else ""
    lines = [
        f"Daily digest{origin}: {sub.time} {sub.timezone}, {days_phrase(sub.days, long=True)}, "
        f"{sub.claims_per_digest} claim{plural}{topics}."
    ]
    if sub.paused_reason:
        why = PAUSE_HELP.get(sub.paused_reason, sub.paused_reason)
        since = f" since {sub.paused_at:%Y-%m-%d %H:%M} UTC" if sub.paused_at else ""
        lines.append(f"Paused{since}: {why}")
    elif status.next_run is not None:
        local = local_time(sub, status.next_run)
        if status.due_now:
            lines.append(f"Today's digest ({local:%H:%M %Z}) is due: it goes out within minutes.")
        else:
            lines.append(f"Next digest: {local:%a %d %b %Y, %H:%M %Z}.")
    if status.last_delivery_date is not None:
        lines.append(f"Last delivered: {status.last_delivery_date:%a %d %b %Y}.")
    else:
        lines.append("No digest delivered yet.")
    return "\n".join(lines)


__all__ = ["PAUSE_HELP", "days_phrase", "describe_status"]
