"""A claim's own pieces are rendered once and reused, never served stale after an edit."""

from __future__ import annotations

from pathlib import Path

from claim_factory import claim_data, write_store

from bot.core.blocks import answer_message
from bot.core.blocks.claims import _claim_pieces
from bot.core.catalog import load_catalog

SUMMARY = "Export controls on advanced chips slowed frontier training runs in 2025."
EDITED = "Export controls on advanced chips did not slow frontier training runs at all."


def _answer(claims_dir: Path, query: str) -> dict:
    catalog = load_catalog(claims_dir)
    return answer_message(catalog.store, catalog.matcher.search(query)).payload()


def test_reused_pieces_give_the_payload_a_fresh_render_gives(tmp_path: Path) -> None:
    claims = write_store(tmp_path / "claims", [claim_data("chip-exports", "Chip exports", SUMMARY)])
    _claim_pieces.cache_clear()
    fresh = _answer(claims, "chip exports")
    again = _answer(claims, "chip exports")  # a new store and claim objects, the same content
    assert _claim_pieces.cache_info().hits >= 1
    assert again == fresh
    assert SUMMARY in fresh["blocks"][1]["text"]["text"]


def test_an_edited_claim_is_rendered_anew(tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    write_store(claims, [claim_data("chip-exports", "Chip exports", SUMMARY)])
    assert SUMMARY in str(_answer(claims, "chip exports"))
    write_store(claims, [claim_data("chip-exports", "Chip exports", EDITED)])
    edited = str(_answer(claims, "chip exports"))
    assert EDITED in edited
    assert SUMMARY not in edited
