"""What makes a claim a new *revision*: a hash over the fields a reader relies on.

A correction goes to a thread only when the claim's substance changed since it
was cited there — its summary, its evidence level or its sources — not when a
typo in an alias or a new topic tag was fixed. The hash is taken over exactly
those fields, in a canonical JSON form, so the same claim hashes the same in
every process and after every restart.
"""

from __future__ import annotations

import hashlib
import json

from bot.core.schema import Claim

HASH_CHARS = 32


def content_hash(claim: Claim) -> str:
    """Stable across processes: summary, evidence level and sources, canonical JSON."""
    substance = {
        "summary": claim.summary,
        "evidence": claim.evidence.level.value,
        "sources": [source.model_dump(mode="json") for source in claim.sources],
    }
    raw = json.dumps(substance, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:HASH_CHARS]
