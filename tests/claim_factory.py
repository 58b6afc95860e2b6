"""Build small, valid claim stores on disk for tests that need controlled text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def claim_data(claim_id: str, title: str, summary: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": claim_id,
        "title": title,
        "summary": summary,
        "topics": fields.pop("topics", ["testing"]),
        "entities": fields.pop("entities", []),
        "aliases": fields.pop("aliases", []),
        "evidence": {"level": "partial", "note": "Written for a test."},
        "sources": [
            {
                "url": f"https://example.org/{claim_id}",
                "title": "Example source",
                "publisher": "Example",
                "kind": "commentary",
                "supports": "The whole claim.",
            }
        ],
        "added": "2026-01-01",
        "reviewed": "2026-01-02",
    }
    data.update(fields)
    return data


def write_store(directory: Path, claims: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for data in claims:
        (directory / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory
