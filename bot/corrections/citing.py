"""Posting claims in public, and remembering which claims each post cited, and where.

Only public posts are recorded — thread replies, shared answers and digests —
never private answers: those are nobody else's business and can never be
corrected in place. The record is written after Slack accepted the post, with
the message ts Slack returned (a correction is a reply in that thread); a
failure to record is logged and never turns into a second post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.answers import Delivery
from bot.core.blocks import SlackMessage
from bot.core.revisions import content_hash
from bot.core.schema import Claim
from bot.state.citations import Citation, record_citations

log = logging.getLogger(__name__)

# (channel, thread_ts, message_ts, claim ids) -> None: what a delivery knows once it posted
RecordCitations = Callable[[str, str, str, tuple[str, ...]], None]

CANNOT_POST_HERE = frozenset({"not_in_channel", "channel_not_found"})
"""Where the bot may not post itself (a channel it was not invited to, a DM between people)."""


class CitationKind(StrEnum):
    THREAD = "thread"  # an answer to a mention, in its thread
    SHARED = "shared"  # a private answer someone shared to the channel
    DIGEST = "digest"  # a claim in a posted daily digest
    CORRECTION = "correction"  # a correction: the thread now knows this revision


@dataclass(frozen=True)
class CitationSite:
    """Where a public post went and whose it is: what every citation of that post shares.

    One value instead of six loose strings, so the listeners, the outbox
    resumer and the digest all hand the same thing to :func:`citations_of`.
    """

    team_id: str
    enterprise_id: str
    kind: CitationKind
    channel: str
    thread_ts: str
    message_ts: str


# (site, claim ids) -> None: Services.record_citations, resume.StoreCitations
RecordAt = Callable[[CitationSite, tuple[str, ...]], None]


def citations_of(claims: Iterable[Claim], site: CitationSite) -> list[Citation]:
    """What each claim said when posted (content hash, review date, evidence), for corrections."""
    return [
        Citation(
            team_id=site.team_id,
            enterprise_id=site.enterprise_id,
            channel_id=site.channel,
            thread_ts=site.thread_ts,
            message_ts=site.message_ts,
            claim_id=claim.id,
            content_hash=content_hash(claim),
            reviewed=claim.reviewed,
            kind=site.kind.value,
            evidence=claim.evidence.level.value,
        )
        for claim in claims
    ]


def recorder(
    record: RecordAt, team_id: str, enterprise_id: str, kind: CitationKind
) -> RecordCitations:
    """``record`` for one team's posts of one kind, in the shape a delivery calls it."""

    def record_post(channel: str, thread_ts: str, message_ts: str, ids: tuple[str, ...]) -> None:
        site = CitationSite(team_id, enterprise_id, kind, channel, thread_ts, message_ts)
        record(site, ids)

    return record_post


def _record_safely(
    record: RecordCitations, channel: str, thread: str, ts: str, ids: tuple[str, ...]
) -> None:
    try:
        record(channel, thread, ts, ids)
    except Exception:  # the post is out; a lost record only means no correction later
        log.exception("could not record the claims cited in a public post")


@dataclass
class CitingThreadDelivery:
    """``chat.postMessage`` into a thread, then a record of the claims it cited."""

    client: WebClient
    channel: str
    thread_ts: str
    record: RecordCitations

    def send(self, message: SlackMessage) -> None:
        response = self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, **message.payload()
        )
        message_ts = response.get("ts")
        if message.cites and message_ts:
            _record_safely(
                self.record, self.channel, self.thread_ts, str(message_ts), message.cites
            )


@dataclass
class SharedAnswerDelivery:
    """A "Share in channel" answer is posted by the bot itself, so Slack tells us where it went.

    A ``response_url`` post answers only "ok" — no message ts, so nothing to
    reply under when a shared claim is corrected later. ``chat.postMessage``
    returns the ts; where the bot may not post (a channel it is not in, a DM
    between people) the share goes through ``fallback`` (the action's
    ``response_url``) as before, and cannot be corrected there.
    """

    client: WebClient
    channel: str
    thread_ts: str | None  # set when the private answer was inside a thread
    fallback: Delivery
    record: RecordCitations

    def send(self, message: SlackMessage) -> None:
        if not self.channel:
            self.fallback.send(message)
            return
        try:
            response = self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, **message.payload()
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in CANNOT_POST_HERE:
                raise  # 429 and 5xx: the answer queue tries again later
            log.info("cannot post in %s myself; sharing through response_url", self.channel)
            self.fallback.send(message)
            return
        message_ts = str(response.get("ts") or "")
        if message.cites and message_ts:
            thread = self.thread_ts or message_ts
            _record_safely(self.record, self.channel, thread, message_ts, message.cites)


@dataclass
class DigestCitations:
    """The digest runner's hook: every claim in a posted digest, cited in the digest's thread."""

    engine: Engine

    def __call__(self, team_id: str, channel: str, ts: str, claims: Iterable[Claim]) -> None:
        rows = citations_of(claims, CitationSite(team_id, "", CitationKind.DIGEST, channel, ts, ts))
        try:
            record_citations(self.engine, rows)
        except Exception:  # the digest is out; a lost record only means no correction later
            log.exception("could not record the claims of the digest in %s", channel)
