"""The claim watcher sees every kind of change to real files, and retries what failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bot.core.catalog as catalog_module
from bot.core.catalog import CatalogHolder, load_catalog

CLAIM = "tiktok-creation-engine.yaml"


def _overwrite_in_place(path: Path, text: str) -> None:
    """Rewrite the same inode, as editors and ``git checkout`` often do."""
    inode = path.stat().st_ino
    with path.open("r+", encoding="utf-8") as handle:
        handle.write(text)
        handle.truncate()
    assert path.stat().st_ino == inode


def _title(holder: CatalogHolder, claim_id: str) -> str:
    claim = holder.current.store.get(claim_id)
    assert claim is not None
    return claim.title


def test_an_in_place_edit_is_reloaded(store_dir: Path) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    path = store_dir / CLAIM
    dir_mtime = store_dir.stat().st_mtime_ns
    text = path.read_text()
    old_title = _title(holder, "tiktok-creation-engine")
    new_title = "Short video apps became creation engines"
    _overwrite_in_place(path, text.replace(old_title, new_title, 1))
    assert store_dir.stat().st_mtime_ns == dir_mtime  # the old watcher's only signal
    assert holder.reload_if_changed() == []
    assert _title(holder, "tiktok-creation-engine") == new_title
    assert holder.current.matcher.search("creation engines short video").found


def test_a_file_broken_then_fixed_in_place_is_served_again(store_dir: Path) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    path = store_dir / CLAIM
    good = path.read_text()
    _overwrite_in_place(path, good.replace("summary:", "sumary: x\nsummary:", 1))
    assert [p.field for p in holder.reload_if_changed()] == ["sumary"]
    assert holder.reload_if_changed() == []  # unchanged since the refusal: no reload storm
    fixed = good.replace("TikTok", "Douyin", 1)
    assert fixed != good
    _overwrite_in_place(path, fixed)
    before = holder.current
    assert holder.reload_if_changed() == []
    assert holder.current is not before
    assert "Douyin" in path.read_text()
    claim = holder.current.store.get("tiktok-creation-engine")
    assert claim is not None and "Douyin" in claim.model_dump_json()


def test_a_same_size_rewrite_with_the_old_mtime_is_still_seen(store_dir: Path) -> None:
    """``rsync -t`` and ``touch -r`` restore mtimes; ctime still moves."""
    holder = CatalogHolder(load_catalog(store_dir))
    path = store_dir / CLAIM
    stat = path.stat()
    text = path.read_text()
    old_title = _title(holder, "tiktok-creation-engine")
    new_title = old_title[::-1].capitalize()
    _overwrite_in_place(path, text.replace(old_title, new_title, 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    holder.reload_if_changed()
    assert _title(holder, "tiktok-creation-engine") == new_title


def test_a_reload_that_crashed_is_retried_at_the_next_poll(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    path = store_dir / CLAIM
    text = path.read_text()
    old_title = _title(holder, "tiktok-creation-engine")
    _overwrite_in_place(path, text.replace(old_title, "Creation engines replaced feeds", 1))
    real_load, real_patch = catalog_module.load_catalog, catalog_module.patch_catalog

    def failing_load(*args: object, **kwargs: object) -> object:
        raise OSError("disk went away")

    # Both ways a reload can go: patching the last full load, or loading whole.
    monkeypatch.setattr(catalog_module, "load_catalog", failing_load)
    monkeypatch.setattr(catalog_module, "patch_catalog", failing_load)
    with pytest.raises(OSError):
        holder.reload_if_changed()
    assert _title(holder, "tiktok-creation-engine") == old_title
    monkeypatch.setattr(catalog_module, "load_catalog", real_load)
    monkeypatch.setattr(catalog_module, "patch_catalog", real_patch)
    assert holder.reload_if_changed() == []
    assert _title(holder, "tiktok-creation-engine") == "Creation engines replaced feeds"


def test_an_unrelated_file_does_not_reload(store_dir: Path) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    before = holder.current
    (store_dir / "notes.txt").write_text("not a claim")
    assert holder.reload_if_changed() == [] and holder.current is before
