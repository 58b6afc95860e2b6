"""The matcher's mechanisms, on small stores built for each behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from claim_factory import claim_data, write_store

from bot.core.candidates import CandidateFinder, Unit
from bot.core.catalog import load_catalog
from bot.core.index import STATE_VERSION, TermIndex
from bot.core.matcher import MAX_QUERY_WORDS, Matcher
from bot.core.postings import best_rows, credit, lookup
from bot.core.store import REPO_CLAIMS, load_store

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    directory = write_store(
        tmp_path_factory.mktemp("toy"),
        [
            claim_data(
                "quantum-title",
                "Quantum sensors reshape submarine detection",
                "Navies test new instruments at sea.",
                aliases=["deep sea sensing"],
                entities=["Qubitronics"],
                speaker={"name": "Ada Lovelace", "role": "CEO", "org": "Qubitronics"},
            ),
            claim_data(
                "quantum-summary",
                "Navies buy more drones",
                "Budgets shift to drones, and some mention quantum sensors in passing.",
            ),
            claim_data(
                "chip-export",
                "Chip export rules tighten again",
                "Regulators restrict lithography tools and advanced accelerators.",
                aliases=["export controls", "chip ban"],
                topics=["semiconductors"],
            ),
        ],
    )
    return load_catalog(directory).matcher


@pytest.fixture(scope="module")
def seeds() -> Matcher:
    return load_catalog(REPO_CLAIMS).matcher


def ids(matcher: Matcher, query: str) -> list[str]:
    return [m.claim.id for m in matcher.search(query).matches]


def test_title_hit_outranks_summary_hit(toy: Matcher) -> None:
    assert ids(toy, "quantum sensors")[:2] == ["quantum-title", "quantum-summary"]


def test_case_punctuation_and_plurals(toy: Matcher) -> None:
    assert ids(toy, "QUANTUM SENSOR!!!")[0] == "quantum-title"
    assert ids(toy, "export-control")[0] == "chip-export"


def test_typo_corrected_towards_key_words_with_reason(toy: Matcher) -> None:
    result = toy.search("qubitronix")
    assert result.matches[0].claim.id == "quantum-title"
    assert "qubitronics" in result.matches[0].reason.lower()


def test_typo_is_not_corrected_towards_summary_words(toy: Matcher) -> None:
    # "budgetz" is one edit from "budgets", which only a summary contains.
    assert ids(toy, "budgetz") == []


def test_names_by_first_last_and_org(toy: Matcher) -> None:
    for query in ("ada", "lovelace", "qubitronics ceo"):
        assert ids(toy, query)[0] == "quantum-title", query


def test_split_and_joined_spellings(toy: Matcher) -> None:
    assert ids(toy, "deepsea sensing")[0] == "quantum-title"
    assert ids(toy, "chipban")[0] == "chip-export"


def test_long_message_sharing_one_name_is_no_match(toy: Matcher) -> None:
    message = (
        "Qubitronics is hosting the quarterly all-hands in the big meeting room on "
        "Thursday afternoon, bring your laptops and your questions about payroll"
    )
    result = toy.search(message)
    assert result.matches == ()
    assert result.suggestions


def test_question_with_stop_words(seeds: Matcher) -> None:
    assert ids(seeds, "what did jensen say about deepseek?")[0] == "huang-deepseek"


@pytest.mark.parametrize("query", ["", "   ", "😀🔥🚀", "the of and to is", "?!?!", "<!channel>"])
def test_contentless_queries_get_suggestions_not_matches(seeds: Matcher, query: str) -> None:
    result = seeds.search(query)
    assert result.matches == ()
    assert len(result.suggestions) >= 3


def test_ten_kilobytes_of_text_is_bounded(seeds: Matcher) -> None:
    query = ("distillation " + "lorem ipsum dolor sit amet " * 400)[:10_240]
    result = seeds.search(query)
    assert len(result.words) <= MAX_QUERY_WORDS
    assert result.matches == ()  # one topical word in 10 kB of filler is not a match
    assert seeds.search("x" * 10_240).matches == ()


def test_slack_markup_is_read_as_plain_words(seeds: Matcher) -> None:
    result = seeds.search("<!channel> <@U123|jensen> on <https://example.com|deepseek>")
    assert result.matches[0].claim.id == "huang-deepseek"
    assert "channel" not in result.words


def test_limit_and_offset_page_through_results(seeds: Matcher) -> None:
    first = seeds.search("open source models", limit=1)
    second = seeds.search("open source models", limit=1, offset=1)
    assert len(first.matches) == 1 and len(second.matches) == 1
    assert first.matches[0].claim.id != second.matches[0].claim.id


def test_answers_follow_the_words_then_the_score_and_are_bounded(seeds: Matcher) -> None:
    result = seeds.search("open source")
    found = seeds.candidates("open source")
    assert found is not None and len(result.matches) >= 2
    rank = dict(zip((seeds.store.ids[i] for i in found.indices), found.words_rank(), strict=True))
    keys = [(rank[m.claim.id], m.score) for m in result.matches]
    assert keys == sorted(keys, reverse=True)
    assert all(0 < m.score <= 1 for m in result.matches)


def test_index_reports_its_memory(seeds: Matcher) -> None:
    assert 0 < seeds.memory_bytes() < 1_000_000
    assert seeds.size == len(load_store(REPO_CLAIMS))


def test_pruned_scoring_equals_full_scoring() -> None:
    """The large-store code paths change no result.

    With nearly every word treated as "common" (scored lazily for candidates
    only) and every multi-spelling word merged densely, results on all
    evaluation queries are the same as with the small-store paths.
    """
    store = load_store(REPO_CLAIMS)
    full = Matcher(store)
    pruned = Matcher(store, common_postings=1, dense_merge_at=0)
    queries = [
        line.split("\t")[0] for line in (DATA / "public_queries.tsv").read_text().splitlines()[1:]
    ]
    queries += [
        line.split("\t")[0] for line in (DATA / "heldout_queries.tsv").read_text().splitlines()[1:]
    ]
    assert len(queries) > 100
    for query in queries:
        a, b = full.search(query, limit=5), pruned.search(query, limit=5)
        assert [(m.claim.id, m.score, m.coverage) for m in a.matches] == [
            (m.claim.id, m.score, m.coverage) for m in b.matches
        ], query


def _eval_queries() -> list[str]:
    rows = []
    for name in ("public_queries.tsv", "heldout_queries.tsv"):
        rows += [line.split("\t")[0] for line in (DATA / name).read_text().splitlines()[1:]]
    return rows


def test_index_saved_as_arrays_answers_like_the_built_one(tmp_path: Path) -> None:
    """state() -> .npz file (no pickle) -> from_state() gives the same answers and reasons."""
    store = load_store(REPO_CLAIMS)
    built = Matcher(store)
    path = tmp_path / "index.npz"
    np.savez(path, **built.index.state())
    with np.load(path, allow_pickle=False) as data:
        restored = Matcher(store, index=TermIndex.from_state(dict(data)))
    assert restored.index.term_ids == built.index.term_ids
    assert restored.index.suggest_keys == built.index.suggest_keys
    for query in [*_eval_queries(), "hasabis", "deep seek", "nothing here at all"]:
        a, b = built.search(query, limit=5), restored.search(query, limit=5)
        assert [(m.claim.id, m.score, m.reason) for m in a.matches] == [
            (m.claim.id, m.score, m.reason) for m in b.matches
        ], query
        assert a.suggestions == b.suggestions, query


def test_a_torn_or_foreign_index_state_is_refused(seeds: Matcher) -> None:
    state = seeds.index.state()
    missing = {k: v for k, v in state.items() if k != "idf"}
    with pytest.raises(ValueError, match="incomplete"):
        TermIndex.from_state(missing)
    with pytest.raises(ValueError, match="inconsistent: idf"):
        TermIndex.from_state(state | {"idf": state["idf"][:-1]})
    with pytest.raises(ValueError, match="inconsistent: strings"):
        TermIndex.from_state(state | {"phrases.data": state["phrases.data"][:-3]})
    with pytest.raises(ValueError, match="version"):
        TermIndex.from_state(state | {"version": np.array([STATE_VERSION + 1, seeds.size])})


def test_an_index_of_another_store_is_refused(seeds: Matcher, toy: Matcher) -> None:
    with pytest.raises(ValueError, match="index of 3 claims"):
        Matcher(seeds.store, index=toy.index)


def test_the_candidate_pool_bound_drops_only_claims_that_cannot_make_the_pool() -> None:
    """MaxScore with a top-k bar proposes exactly what scoring every claim would.

    With a pool of 3 and every word lazy, the bound prunes on most queries;
    without lazy words nothing is pruned. Both must propose the same claims
    (ties going to the lower index) with the same evidence.
    """
    store = load_store(REPO_CLAIMS)
    full = Matcher(store, candidate_pool=3)
    pruned = Matcher(store, candidate_pool=3, common_postings=1, dense_merge_at=0)
    compared = 0
    for query in _eval_queries():
        a, b = full.candidates(query), pruned.candidates(query)
        if a is None or b is None:
            assert a is b, query
            continue
        assert a.indices.tolist() == b.indices.tolist(), query
        assert np.allclose(a.features, b.features), query
        compared += a.indices.size == 3
    assert compared > 50  # the pool was full, so the bound had work to do


def test_the_letter_count_filter_keeps_every_word_within_reach(seeds: Matcher) -> None:
    """typo_candidates drops only key words that edit distance would reject anyway."""
    from rapidfuzz.distance import OSA

    from bot.core.index import edits_allowed

    index = seeds.index
    probes = ["hasabis", "seeddance", "deepsek", "disitllation", "nvdia", "leaderbords"]
    probes += [w[:-1] + "x" for w in list(index.surface_term)[:200] if len(w) > 4]
    kept_fewer = 0
    for word in probes:
        edits = edits_allowed(word)
        bucket = index.buckets.get(len(word), [])
        near = [w for w in bucket if OSA.distance(word, w) <= edits]
        filtered = index.typo_candidates(word, edits)
        assert set(near) <= set(filtered), word
        kept_fewer += len(filtered) < len(bucket)
    assert kept_fewer > len(probes) // 2  # the filter does filter


def test_the_claim_most_about_the_words_outranks_many_shorter_ones(tmp_path: Path) -> None:
    """Equally worded claims are ordered by the words, not by which is shortest.

    Forty one-line claims say "Nvidia" once and little else, so their vectors
    sit closest to the query's; the real claim names Nvidia in its title, an
    alias, an entity and its summary. Ordered by chance (cosine), the forty
    came first and kept the real one out of the reranked set.
    """
    real = claim_data(
        "huang-praises-rival",
        "Nvidia's chief praises a Chinese rival's efficiency",
        "The Nvidia CEO said the rival's cheap training made Nvidia's customers rethink spending.",
        aliases=["nvidia ceo praise"],
        entities=["Nvidia"],
    )
    note = "Nvidia makes AI chips."
    shorter = [claim_data(f"nvidia-note-{i:02d}", f"Nvidia note {i}", note) for i in range(40)]
    matcher = load_catalog(write_store(tmp_path / "store", [*shorter, real])).matcher
    found = matcher.candidates("nvidia")
    assert found is not None
    cosine = dict(zip((matcher.store.ids[i] for i in found.indices), found.cosine, strict=True))
    assert cosine["huang-praises-rival"] < min(v for k, v in cosine.items() if k != real["id"])
    assert ids(matcher, "nvidia")[0] == "huang-praises-rival"


def test_an_answer_explains_itself_as_its_claim_alone_would(seeds: Matcher) -> None:
    """An answer's hits come from the rerank's batch look-up: the same as its claim's own.

    The batch searches every term's postings for all reranked claims at once;
    a claim's hits must not depend on which other claims were in the batch.
    """
    compared = 0
    for query in _eval_queries():
        units = seeds.analyse(query)
        for match in seeds.search(query, limit=5).matches:
            index = seeds.store.index_of(match.claim.id)
            assert index is not None
            assert match.hits == seeds.finder.hits(index, units), query
            compared += bool(match.hits)
    assert compared > 100


def test_a_strength_counts_the_same_in_float32_and_float64() -> None:
    """Matched words are counted on float32 postings or float64 look-ups alike.

    Common and densely merged words' credit is added for the proposed claims
    only (from float64 look-ups), the others' over their float32 postings: every
    field weight times every typo penalty must fall on the same side of the
    thresholds in both precisions.
    """
    from bot.core.candidates import FUZZY_PENALTY
    from bot.core.match_types import FIELD_WEIGHT

    for penalty in (1.0, *FUZZY_PENALTY.values()):
        strengths = FIELD_WEIGHT * penalty
        for weak in (0.5, 1.0):
            single = credit(strengths, weak)
            assert single.tolist() == credit(strengths.astype(np.float64), weak).tolist()


def _reference_proposal(finder: CandidateFinder, units: list[Unit], weak: float) -> list[list]:
    """``propose`` the plain way: every word added into arrays over every claim, in order."""
    claims = np.arange(finder.index.size)
    mass, boost, matched = (np.zeros(claims.size) for _ in range(3))
    for unit in (u for u in units if u.alternatives):
        strengths, boosts = lookup(finder.index, unit.alternatives, claims)
        # float32 products, as the postings give them
        mass += strengths.astype(np.float32) * unit.weight
        boost += boosts.astype(np.float32) * unit.weight
        matched += credit(strengths, weak)
    total = sum(u.weight for u in units)
    passing = np.flatnonzero((mass > 0) & (mass >= 0.1 * total - 1e-9))
    coverage = mass[passing] / total
    keep = coverage >= 0.1 - 1e-9
    words = coverage[keep] + boost[passing][keep] / total
    found = [passing[keep], coverage[keep], matched[passing][keep], words]
    if words.size > finder._pool:
        found = [a[best_rows(words, finder._pool)] for a in found]
    return [a.tolist() for a in found]


@pytest.mark.parametrize("dense_merge_at", [4_096, 0])
@pytest.mark.parametrize("credit_all_later", [False, True])
def test_the_shortcuts_propose_what_plain_scoring_would(
    seeds: Matcher, monkeypatch: pytest.MonkeyPatch, dense_merge_at: int, credit_all_later: bool
) -> None:
    """One-word scoring, bincount-made arrays, dense merging and credit counted later.

    Each gives the proposal (claims, coverage, matched words, words' evidence)
    that adding every word into arrays over every claim gives, to the bit.
    """
    finder = CandidateFinder(seeds.index, dense_merge_at=dense_merge_at)
    if credit_all_later:
        monkeypatch.setattr(CandidateFinder, "_credit_later", lambda self, unit: True)
    compared = 0
    for query in [*_eval_queries(), "deepseek", "deep seek", "open source models", "hasabis"]:
        units = seeds.analyse(query)
        if not any(u.alternatives for u in units):
            continue
        for weak in (0.5, 1.0):
            found = finder.propose(units, weak)
            got = [found.indices, found.coverage, found.matched, found.words]
            assert [a.tolist() for a in got] == _reference_proposal(finder, units, weak), query
        compared += 1
    assert compared > 100


def test_answers_are_picked_in_the_order_a_full_sort_gives(seeds: Matcher) -> None:
    """Words' rank, then chance (best first), then claim id: the first few, ties included."""
    from bot.core.confidence import FEATURES
    from bot.core.ranking import Candidates

    size = seeds.size
    rng = np.random.default_rng(7)
    ids = seeds.store.ids
    for _ in range(200):
        indices = rng.permutation(size)
        words = rng.choice([0.2, 0.5, 0.9], size)  # many ties
        chance = rng.choice([0.3, 0.6], size)
        zeros = np.zeros(size)
        found = Candidates([], indices, np.zeros((size, len(FEATURES))), zeros, zeros, words, [])
        rows = np.flatnonzero(rng.random(size) < 0.8)
        ranks = found.words_rank()
        everything = sorted(
            rows.tolist(), key=lambda r: (-ranks[r], -chance[r], ids[int(indices[r])])
        )
        for count in range(size + 1):
            assert seeds.judge._first(found, rows, chance, count) == everything[:count]
