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

import numpy as np
from pydantic import ValidationError

from bot.core.array_files import save_arrays
from bot.core.claim_load import Row, read_claim_files
from bot.core.compact import RELATIONS, ClaimFacts, ClaimStore, StoreBuilder
from bot.core.parse_analysis import AnalysisRequest
from bot.core.parse_cache import cache_dir_from_env
from bot.core.problems import Loc, Problem, StoreError, field_name, validation_problems
from bot.core.schema import Claim
from bot.core.yamlfile import YamlDocument, YamlSyntaxError, read_yaml

CLAIM_SUFFIXES = (".yaml", ".yml")
SNAPSHOTS_KEPT = 3  # saved stores (columns) kept in the cache directory
REPO_CLAIMS = Path(__file__).resolve().parents[2] / "claims"


__all__ = ["ClaimStore", "load_store", "validate_dir"]


class LoadedClaim(NamedTuple):
    """A valid claim file's facts and where the builder put it, for the cross-file checks."""

    facts: ClaimFacts
    path: Path
    position: int  # position in the StoreBuilder


def default_claims_dir() -> Path:
    """``$AI_RACE_CLAIMS`` if set, else the ``claims/`` directory of this checkout."""
    configured = os.environ.get("AI_RACE_CLAIMS", "").strip()
    return Path(configured) if configured else REPO_CLAIMS


def _explain(path: Path) -> list[Problem]:
    """Every problem of a file the fast path refused, with lines (read again from YAML)."""
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        return [Problem(str(path), exc.line, "(file)", exc.message)]
    except OSError as exc:
        return [Problem(str(path), None, "(file)", f"cannot read: {exc.strerror}")]
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        return [Problem(str(path), 1, "(file)", f"expected a mapping of fields, got {kind}")]
    try:
        claim = Claim.model_validate(doc.data)
    except ValidationError as exc:
        return validation_problems(doc, exc, Claim)
    if claim.id != path.stem:
        message = (
            f"id '{claim.id}' differs from the file name '{path.name}' (expected '{path.stem}')"
        )
        return [Problem(str(path), doc.line_of(("id",)), "id", message)]
    # Valid now: the file changed between the two reads.
    return [Problem(str(path), None, "(file)", "changed while the store loaded; load it again")]


def misdated(facts: ClaimFacts, today: date) -> bool:
    """Whether a claim has a date after ``today`` or was reviewed before it was added.

    The cheap test on facts; ``_date_problems`` then says which date and where.
    Also what a patched reload (bot.core.store_patch) checks of a changed claim.
    """
    return facts.latest > today.toordinal() or facts.reviewed < facts.last_touched


def _date_problems(claim: Claim, doc: YamlDocument, today: date) -> list[Problem]:
    """Dates after ``today``, and a ``reviewed`` before ``added``, each at its own field's line.

    A future ``added`` is the mistake to fix, so it is not also reported as a
    ``reviewed`` that comes before it.
    """
    dated: list[tuple[Loc, date | None]] = [
        (("added",), claim.added),
        (("reviewed",), claim.reviewed),
    ]
    dated += [(("sources", i, "date"), s.date) for i, s in enumerate(claim.sources)]
    found = [
        (loc, f"date {value.isoformat()} is in the future (today is {today.isoformat()})")
        for loc, value in dated
        if value is not None and value > today
    ]
    if claim.reviewed < claim.added <= today:
        found.append(
            (
                ("reviewed",),
                f"reviewed {claim.reviewed.isoformat()} is earlier than added "
                f"{claim.added.isoformat()}: a claim is reviewed on or after the day it is added",
            )
        )
    return [Problem(str(doc.path), doc.line_of(loc), field_name(loc), m) for loc, m in found]


def _contradicting_relations(loaded: list[LoadedClaim]) -> list[Problem]:
    """Pairs of claims that declare different relations to each other, one problem per side.

    A link is read from both ends (see :meth:`ClaimStore.related`), so "A supports
    B" next to "B is context for A" would list each claim twice on the other's
    card, under two headings. The author must decide which relation is true.
    """
    declared = {
        (entry.facts.id, target): (code, i, entry.path)
        for entry in loaded
        for i, (target, code) in enumerate(entry.facts.links)
    }
    problems = []
    for (source, target), (code, index, path) in declared.items():
        back = declared.get((target, source))
        if back is None or back[0] == code:
            continue
        loc: Loc = ("related", index, "relation")
        problems.append(
            Problem(
                str(path),
                read_yaml(path).line_of(loc),
                field_name(loc),
                f"'{RELATIONS[code].value}' for {target}, but {back[2]} declares "
                f"'{RELATIONS[back[0]].value}' for {source}; make the two relations agree "
                "(or declare the link on one side only)",
            )
        )
    return problems


def claim_files(directory: Path) -> list[Path]:
    """The claim files of ``directory`` in name order (one ``scandir``, no ``stat``)."""
    with os.scandir(directory) as entries:
        names = [e.name for e in entries if e.name.endswith(CLAIM_SUFFIXES) and e.is_file()]
    return [directory / name for name in sorted(names)]


def _listed(directory: Path) -> tuple[list[Path], Problem | None]:
    """The claim files of ``directory``, or the one problem that stops a load."""
    if not directory.is_dir():
        what = (
            "is a file, not a directory: give the directory that holds the claim files"
            if directory.exists()
            else "claim directory does not exist"
        )
        return [], Problem(str(directory), None, "(directory)", what)
    files = claim_files(directory)
    if not files:
        return [], Problem(str(directory), None, "(directory)", "no claim files (*.yaml) found")
    return files, None


def _add_unique(rows: list[Row], builder: StoreBuilder) -> tuple[list[LoadedClaim], list[Problem]]:
    """Add each claim to the builder unless an earlier file used its id (``a.yaml``, ``a.yml``)."""
    loaded: list[LoadedClaim] = []
    problems: list[Problem] = []
    first_seen: dict[str, Path] = {}
    for row in rows:
        claim_id = row.facts.id
        if claim_id in first_seen:
            problems.append(
                Problem(
                    str(row.path),
                    read_yaml(row.path).line_of(("id",)),
                    "id",
                    f"duplicate id '{claim_id}', already used by {first_seen[claim_id]}",
                )
            )
            continue
        first_seen[claim_id] = row.path
        loaded.append(LoadedClaim(row.facts, row.path, len(builder)))
        builder.add_facts(row.facts, row.start, row.length)
    return loaded, problems


def _link_and_date_problems(
    loaded: list[LoadedClaim], builder: StoreBuilder, known: set[str], today: date
) -> list[Problem]:
    """Links to ids that exist nowhere, and dates out of order or after ``today``.

    Links may point at claims whose own file failed validation; those are not
    reported as dangling, the broken file already is. Only claims with such a
    problem are materialised and read again for line numbers.
    """
    problems: list[Problem] = []
    for entry in loaded:
        dangling = any(target not in known for target, _ in entry.facts.links)
        if not (dangling or misdated(entry.facts, today)):
            continue
        claim = builder.claim_at(entry.position)
        doc = read_yaml(entry.path)
        problems.extend(_date_problems(claim, doc, today))
        for i, link in enumerate(claim.related):
            if link.id not in known:
                loc: Loc = ("related", i, "id")
                problems.append(
                    Problem(
                        str(doc.path),
                        doc.line_of(loc),
                        field_name(loc),
                        f"no claim with id '{link.id}' in {entry.path.parent}",
                    )
                )
    return problems


def validate_dir(
    directory: Path,
    *,
    today: date | None = None,
    cache_dir: Path | bool | None = True,
    workers: int | None = None,
    analysis: AnalysisRequest | None = None,
) -> tuple[ClaimStore | None, list[Problem]]:
    """Load every claim file in ``directory``; return the store (if clean) and all problems.

    ``cache_dir``: True for the configured parse cache (see bot.core.parse_cache),
    None or False for none, or a directory. ``workers``: processes that parse
    changed files (default: one per core). ``analysis``: see bot.core.parse_analysis.
    """
    today = today or date.today()
    files, refused = _listed(directory)
    if refused is not None:
        return None, [refused]
    if cache_dir is True:
        cache_dir = cache_dir_from_env()
    found = read_claim_files(directory, files, cache_dir or None, today, workers, analysis)
    if found.snapshot is not None:  # saved when this very store last loaded clean
        return found.snapshot, []
    problems = [problem for path in found.broken for problem in _explain(path)]
    builder = StoreBuilder(bodies=found.bodies)
    loaded, duplicates = _add_unique(found.rows, builder)
    problems += duplicates
    known = {p.stem for p in files}
    problems += _link_and_date_problems(loaded, builder, known, today)
    problems += _contradicting_relations(loaded)
    if problems:
        return None, sorted(problems)
    store = builder.build(directory, found.content_key)
    if found.snapshot_dir is not None:
        latest = max((entry.facts.latest for entry in loaded), default=0)
        state = store.state() | {"latest": np.array([latest], dtype=np.int64)}
        save_arrays(found.snapshot_dir, state, keep=SNAPSHOTS_KEPT)
    return store, []


def load_store(
    directory: Path | None = None,
    *,
    today: date | None = None,
    analysis: AnalysisRequest | None = None,
) -> ClaimStore:
    """Load and validate a store, raising StoreError listing every problem."""
    directory = directory or default_claims_dir()
    store, problems = validate_dir(directory, today=today, analysis=analysis)
    if store is None:
        raise StoreError(problems)
    return store
