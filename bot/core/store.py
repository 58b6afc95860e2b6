"""Loading the claim store from a directory of YAML files, and validating it.

Validation reports every problem in one pass (file, line, field), because a
claim author fixing a pull request wants the whole list, not one error per CI
run. A store with any problem is refused as a whole: serving half a store
would silently drop claims that related links or digests point at.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from bot.core.compact import ClaimStore, StoreBuilder
from bot.core.parse_cache import ParseCache, cache_dir_from_env
from bot.core.problems import Loc, Problem, StoreError, field_name, validation_problems
from bot.core.schema import Claim, Related
from bot.core.yamlfile import YamlDocument, YamlSyntaxError, read_yaml

CLAIM_SUFFIXES = (".yaml", ".yml")
REPO_CLAIMS = Path(__file__).resolve().parents[2] / "claims"


__all__ = ["ClaimStore", "load_store", "validate_dir"]


class LoadedClaim(NamedTuple):
    """What the cross-file checks need about a valid claim; the claim itself is in the builder."""

    id: str
    related: list[Related]
    position: int  # position in the StoreBuilder
    dated_later: bool  # some date is after today


def default_claims_dir() -> Path:
    """``$AI_RACE_CLAIMS`` if set, else the ``claims/`` directory of this checkout."""
    configured = os.environ.get("AI_RACE_CLAIMS", "").strip()
    return Path(configured) if configured else REPO_CLAIMS


def _read_claim(
    path: Path, cache: ParseCache
) -> tuple[Claim | None, YamlDocument | None, list[Problem]]:
    try:
        stat = path.stat()
        cached = cache.get(path, stat)
        if cached is not None:
            try:  # a cached file was valid when cached; anything else falls back to YAML
                claim = Claim.model_validate(cached)
                if claim.id == path.stem:
                    cache.keep(path, stat)
                    return claim, None, []
            except ValidationError:
                pass
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        return None, None, [Problem(str(path), exc.line, "(file)", exc.message)]
    except OSError as exc:
        return None, None, [Problem(str(path), None, "(file)", f"cannot read: {exc.strerror}")]
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        return (
            None,
            doc,
            [Problem(str(path), 1, "(file)", f"expected a mapping of fields, got {kind}")],
        )
    try:
        claim = Claim.model_validate(doc.data)
    except ValidationError as exc:
        return None, doc, validation_problems(doc, exc, Claim)
    problems = []
    if claim.id == path.stem:
        cache.put(path, stat, doc.data)
    else:
        problems.append(
            Problem(
                str(path),
                doc.line_of(("id",)),
                "id",
                f"id '{claim.id}' differs from the file name '{path.name}' "
                f"(expected '{path.stem}')",
            )
        )
    return claim, doc, problems


def _future_dates(claim: Claim, doc: YamlDocument, today: date) -> list[Problem]:
    dated: list[tuple[Loc, date | None]] = [
        (("added",), claim.added),
        (("reviewed",), claim.reviewed),
    ]
    dated += [(("sources", i, "date"), s.date) for i, s in enumerate(claim.sources)]
    return [
        Problem(
            str(doc.path),
            doc.line_of(loc),
            field_name(loc),
            f"date {value.isoformat()} is in the future (today is {today.isoformat()})",
        )
        for loc, value in dated
        if value is not None and value > today
    ]


def _contradicting_relations(loaded: list[tuple[LoadedClaim, Path]]) -> list[Problem]:
    """Pairs of claims that declare different relations to each other, one problem per side.

    A link is read from both ends (see :meth:`ClaimStore.related`), so "A supports
    B" next to "B is context for A" would list each claim twice on the other's
    card, under two headings. The author must decide which relation is true.
    """
    declared = {
        (claim.id, link.id): (link.relation, i, path)
        for claim, path in loaded
        for i, link in enumerate(claim.related)
    }
    problems = []
    for (source, target), (relation, index, path) in declared.items():
        back = declared.get((target, source))
        if back is None or back[0] is relation:
            continue
        loc: Loc = ("related", index, "relation")
        problems.append(
            Problem(
                str(path),
                read_yaml(path).line_of(loc),
                field_name(loc),
                f"'{relation.value}' for {target}, but {back[2]} declares "
                f"'{back[0].value}' for {source}; make the two relations agree "
                "(or declare the link on one side only)",
            )
        )
    return problems


def claim_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in CLAIM_SUFFIXES and p.is_file())


def validate_dir(
    directory: Path, *, today: date | None = None, cache_dir: Path | bool | None = True
) -> tuple[ClaimStore | None, list[Problem]]:
    """Load every claim file in ``directory``; return the store (if clean) and all problems.

    ``cache_dir``: True for the configured parse cache (see bot.core.parse_cache),
    None or False for none, or a directory.
    """
    today = today or date.today()
    if cache_dir is True:
        cache_dir = cache_dir_from_env()
    cache = ParseCache(directory, cache_dir or None)
    if not directory.is_dir():
        what = (
            "is a file, not a directory: give the directory that holds the claim files"
            if directory.exists()
            else "claim directory does not exist"
        )
        return None, [Problem(str(directory), None, "(directory)", what)]
    files = claim_files(directory)
    if not files:
        return None, [Problem(str(directory), None, "(directory)", "no claim files (*.yaml) found")]

    problems: list[Problem] = []
    # Only ids and links are kept per claim; bodies go to the builder's file
    # as they are validated, so 100,000 pydantic objects never coexist.
    builder = StoreBuilder(cache.file.parent if cache.file else None)
    loaded: list[tuple[LoadedClaim, Path]] = []
    first_seen: dict[str, Path] = {}
    for path in files:
        claim, doc, found = _read_claim(path, cache)
        problems.extend(found)
        if claim is None:
            continue
        if claim.id in first_seen:
            doc = doc or read_yaml(path)
            problems.append(
                Problem(
                    str(path),
                    doc.line_of(("id",)),
                    "id",
                    f"duplicate id '{claim.id}', already used by {first_seen[claim.id]}",
                )
            )
            continue
        first_seen[claim.id] = path
        # Keep the path, not the parsed document: holding 100,000 documents costs
        # hundreds of MB; the rare file with a problem below is read again for lines.
        later = claim.last_touched > today or any(
            s.date is not None and s.date > today for s in claim.sources
        )
        loaded.append((LoadedClaim(claim.id, claim.related, len(builder), later), path))
        builder.add(claim)

    # Links may point at claims whose own file failed validation; those are not
    # reported as dangling, the broken file already is.
    known = {p.stem for p in files} | set(first_seen)
    for entry, path in loaded:
        dangling = any(link.id not in known for link in entry.related)
        if not (dangling or entry.dated_later):
            continue
        claim = builder.claim_at(entry.position)
        doc = read_yaml(path)
        problems.extend(_future_dates(claim, doc, today))
        for i, link in enumerate(claim.related):
            if link.id not in known:
                loc: Loc = ("related", i, "id")
                problems.append(
                    Problem(
                        str(doc.path),
                        doc.line_of(loc),
                        field_name(loc),
                        f"no claim with id '{link.id}' in {directory}",
                    )
                )
    problems.extend(_contradicting_relations(loaded))
    cache.save()
    if problems:
        return None, sorted(problems)
    return builder.build(directory), []


def load_store(directory: Path | None = None, *, today: date | None = None) -> ClaimStore:
    """Load and validate a store, raising StoreError listing every problem."""
    store, problems = validate_dir(directory or default_claims_dir(), today=today)
    if store is None:
        raise StoreError(problems)
    return store
