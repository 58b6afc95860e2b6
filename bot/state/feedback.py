"""Votes on answers: recorded per person, answer and claim; the latest vote replaces earlier ones.

Who voted is kept only as a hash of workspace and user id (``voter``): enough to
replace a person's earlier vote and to count people, never to name them in a
report. Writes are one upsert keyed on the unique (workspace, answer, claim,
voter) constraint, so a double click or two processes cannot make two rows.
Retention is as for missed queries: :func:`prune_feedback` deletes old rows.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.state.models import QUERY_MAX_CHARS, FeedbackVote, utcnow

NOTE_MAX_CHARS = 2000
URL_MAX_CHARS = 500
WRONG = "wrong"  # the vote that asks for a review (bot.core.feedback.Vote.WRONG)


def voter_hash(team_id: str, user_id: str) -> str:
    """A stable stand-in for a person within a workspace, so no user id is ever stored."""
    raw = f"{team_id}:{user_id}".encode()
    return hashlib.blake2b(raw, digest_size=16, person=b"ai-race-vote").hexdigest()


@dataclass(frozen=True)
class VoteKey:
    """One person's say about one claim in one answer."""

    team_id: str
    enterprise_id: str
    channel_id: str
    message_ts: str
    claim_id: str
    voter: str


def record_vote(
    engine: Engine,
    key: VoteKey,
    vote: str,
    *,
    answer_kind: str,
    query: str = "",
    note: str | None = None,
    source_url: str | None = None,
    now: datetime | None = None,
) -> None:
    """Insert the vote, or replace the person's earlier one on this answer and claim.

    A new vote clears an earlier note unless it brings its own: a note explains a
    "Wrong or outdated" vote and must not outlive it.
    """
    now = now or utcnow()
    values = {
        **key.__dict__,
        "vote": str(vote),
        "answer_kind": str(answer_kind),
        "query": " ".join(query.split())[:QUERY_MAX_CHARS],
        "note": note[:NOTE_MAX_CHARS] if note else None,
        "source_url": source_url[:URL_MAX_CHARS] if source_url else None,
        "created_at": now,
        "updated_at": now,
    }
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(FeedbackVote).values(**values)
    changed = {name: stmt.excluded[name] for name in ("vote", "note", "source_url", "updated_at")}
    stmt = stmt.on_conflict_do_update(index_elements=list(key.__dict__), set_=changed)
    with engine.begin() as connection:
        connection.execute(stmt)


@dataclass
class ClaimFeedback:
    """Votes and notes about one claim: counts of votes and of distinct people, no names."""

    claim_id: str
    votes: dict[str, int] = field(default_factory=dict)
    people: int = 0
    notes: list[tuple[date, str, str | None]] = field(default_factory=list)  # day, note, url
    queries: list[tuple[str, str]] = field(default_factory=list)  # (vote, question) per vote


def feedback_by_claim(
    engine: Engine, since: datetime | None = None, team_id: str | None = None
) -> list[ClaimFeedback]:
    """Every claim with feedback since ``since``, most votes first, then by id.

    ``team_id`` keeps one workspace's votes: with several workspaces installed,
    each one's report shows only what its own people said.
    """
    stmt = select(
        FeedbackVote.claim_id,
        FeedbackVote.voter,
        FeedbackVote.vote,
        FeedbackVote.query,
        FeedbackVote.note,
        FeedbackVote.source_url,
        FeedbackVote.updated_at,
    ).order_by(FeedbackVote.updated_at, FeedbackVote.id)
    if since is not None:
        stmt = stmt.where(FeedbackVote.updated_at >= since)
    if team_id is not None:
        stmt = stmt.where(FeedbackVote.team_id == team_id)
    claims: dict[str, ClaimFeedback] = {}
    people: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        for row in connection.execute(stmt):
            entry = claims.setdefault(row.claim_id, ClaimFeedback(row.claim_id))
            entry.votes[row.vote] = entry.votes.get(row.vote, 0) + 1
            people[row.claim_id].add(row.voter)
            entry.queries.append((row.vote, row.query))
            if row.note:
                entry.notes.append((row.updated_at.date(), row.note, row.source_url))
    for claim_id, entry in claims.items():
        entry.people = len(people[claim_id])
    return sorted(claims.values(), key=lambda c: (-sum(c.votes.values()), c.claim_id))


def wrong_votes_since(engine: Engine, reviewed: Callable[[str], date | None]) -> dict[str, int]:
    """People per claim who said "Wrong or outdated" after the claim's last review.

    ``reviewed`` gives a claim's ``reviewed`` date (None: no longer in the
    store); a vote on that day or earlier was answered by the review.
    """
    stmt = select(FeedbackVote.claim_id, FeedbackVote.voter, FeedbackVote.updated_at).where(
        FeedbackVote.vote == WRONG
    )
    people: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        for claim_id, voter, updated_at in connection.execute(stmt):
            last_review = reviewed(claim_id)
            if last_review is not None and updated_at.date() > last_review:
                people[claim_id].add(voter)
    return {claim_id: len(voters) for claim_id, voters in people.items()}


def prune_feedback(engine: Engine, before: datetime) -> int:
    """Delete votes last changed before ``before``; the same retention rule as missed queries."""
    with engine.begin() as connection:
        stmt = delete(FeedbackVote).where(FeedbackVote.updated_at < before)
        return connection.execute(stmt).rowcount
