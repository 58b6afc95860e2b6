"""Which threads need a correction, and what it says (pure: citations and a store in, plans out).

A thread needs one when a claim it cited has changed in substance since — its
content hash differs and ``reviewed`` moved forward (an author re-checked it) —
or when the claim was removed from the store ("withdrawn"). Each plan names
its *revision* (the new content hash, or ``withdrawn``): posting is meant to
happen exactly once per (thread, claim, revision), so a later edit of the same
claim gets its own correction and a re-run of the same one gets none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.core.escape import escape
from bot.core.presentation import EVIDENCE_LABEL
from bot.core.revisions import content_hash
from bot.core.schema import Claim, EvidenceLevel
from bot.core.store import ClaimStore
from bot.state.citations import Citation

WITHDRAWN = "withdrawn"
CITED_WITHIN_DAYS = 30  # older threads are left alone: the conversation has moved on


@dataclass(frozen=True)
class Correction:
    team_id: str
    enterprise_id: str
    channel_id: str
    thread_ts: str
    claim_id: str
    revision: str  # the claim's new content hash, or WITHDRAWN
    text: str
    # What the thread learns from the correction (None: withdrawn): a citation of its own,
    # so a later quiet edit is compared with this revision, not with the first answer.
    reviewed: date | None = None
    evidence: str = ""


def _level(value: str) -> str:
    try:
        return EVIDENCE_LABEL[EvidenceLevel(value)].lower()
    except ValueError:
        return value


def correction_text(cited: Citation, claim: Claim | None) -> str:
    """One short line: what changed, when, and the author's note on why."""
    if claim is None:
        return (
            f"Update: the claim `{cited.claim_id}` cited in this thread has been withdrawn "
            "from the claim store; please don't rely on it."
        )
    now = claim.evidence.level.value
    evidence = (
        f"evidence now *{_level(now)}* (was *{_level(cited.evidence)}*)"
        if cited.evidence and cited.evidence != now
        else f"evidence *{_level(now)}*"
    )
    change = claim.latest_change
    note = f": {escape(change.note)}" if change is not None and change.date > cited.reviewed else ""
    return (
        f"Update: this claim was revised on {claim.reviewed.isoformat()} — {evidence}{note} "
        f"(see `/ai-race claim {claim.id}`)"
    )


def plan_corrections(citations: Iterable[Citation], store: ClaimStore) -> list[Correction]:
    """One correction per (thread, claim) whose claim changed since the thread last cited it.

    Only the newest citation of a claim in a thread counts: a thread that was
    already shown the new version needs nothing.
    """
    newest: dict[tuple[str, str, str, str], Citation] = {}
    for cited in citations:  # oldest first, so later ones replace earlier ones
        newest[(cited.team_id, cited.channel_id, cited.thread_ts, cited.claim_id)] = cited
    plans = []
    for cited in newest.values():
        claim = store.get(cited.claim_id)
        if claim is None:
            revision = WITHDRAWN
        else:
            revision = content_hash(claim)
            if revision == cited.content_hash or claim.reviewed <= cited.reviewed:
                continue
        plans.append(
            Correction(
                cited.team_id,
                cited.enterprise_id,
                cited.channel_id,
                cited.thread_ts,
                cited.claim_id,
                revision,
                correction_text(cited, claim),
                None if claim is None else claim.reviewed,
                "" if claim is None else claim.evidence.level.value,
            )
        )
    return plans
