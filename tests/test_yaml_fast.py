"""The fast construction path builds exactly what PyYAML's constructor builds.

``bot.core.yamlfile.SafeLoader`` builds plain documents itself and hands
anything else to PyYAML (see ``_plain``). These tests compare it with PyYAML
on every bundled claim, every claim of a generated store and a corpus of YAML
1.1 edge cases: same values of the same types (``True == 1`` and ``1 == 1.0``
in Python, so types are compared too), in the same key order, and the same
exception with the same message for documents PyYAML refuses.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.make_store import make_store
from bot.core.store import REPO_CLAIMS, claim_files
from bot.core.yamlfile import SafeLoader, YamlSyntaxError, parse_yaml


class PyYamlLoader(SafeLoader):
    """Our loader (duplicate keys refused) with PyYAML's own resolver and constructor."""

    resolve = yaml.resolver.BaseResolver.resolve

    def construct_document(self, node: yaml.Node) -> Any:
        return yaml.constructor.BaseConstructor.construct_document(self, node)


def _same(ours: Any, theirs: Any) -> bool:
    """Equal, of the same types all the way down, dict keys in the same order."""
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, dict):
        return list(map(type, ours)) == list(map(type, theirs)) and (
            list(ours) == list(theirs) and all(_same(ours[k], theirs[k]) for k in ours)
        )
    if isinstance(ours, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(ours, float) and math.isnan(ours):
        return math.isnan(theirs)
    if isinstance(ours, dt.datetime):
        return ours == theirs and ours.tzinfo == theirs.tzinfo
    return bool(ours == theirs)


def _outcome(text: str, loader: type) -> tuple[str, Any]:
    try:
        return "value", yaml.load(text, Loader=loader)
    except Exception as exc:  # the exception is what is compared
        return type(exc).__name__, str(exc)


def _assert_same(text: str) -> None:
    ours, theirs = _outcome(text, SafeLoader), _outcome(text, PyYamlLoader)
    assert ours[0] == theirs[0], text
    if ours[0] == "value":
        assert _same(ours[1], theirs[1]), text
    else:
        assert ours[1] == theirs[1], text
    if theirs[0] != "DuplicateKeyError":  # else CSafeLoader keeps the last value
        # Also what yaml.load(..., CSafeLoader) gives.
        plain = _outcome(text, yaml.CSafeLoader)
        assert plain[0] == ours[0] and (
            _same(ours[1], plain[1]) if ours[0] == "value" else ours[1] == plain[1]
        ), text


EDGE_CASES = [
    # YAML 1.1 booleans and nulls, plain and quoted
    "a: yes\nb: No\nc: ON\nd: off\ne: y\nf: n\ng: True\nh: FALSE\ni: 'yes'\nj: \"off\"",
    "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: ''\ng: 'null'\nh: \"~\"",
    "[yes, no, on, off, true, false, ~, null, '', y, Y, n]",
    # integers: decimal, octal, hex, binary, sexagesimal, underscores, signs
    "a: 0o17\nb: 017\nc: 0x1f\nd: 0b101\ne: 1_000\nf: -42\ng: +7\nh: 190:20:30\ni: 0\nj: '12'",
    "a: 0x_\nb: 0b\n",
    "a: 12345678901234567890123456789012345678901234567890\nb: '12345678901234567890'\n",
    "[12, '12', 12, \"12\", !!str 12, 2024-01-01, '2024-01-01', yes, 'yes', yes]",
    "a: 1.23456789012345678901234567890123456789012345678e+3\n"
    "b: 0o1234567012345670123456701234567012345670\n",
    # floats: exponents, .inf, .nan, sexagesimal, underscores
    "a: 1.5\nb: -.inf\nc: .Inf\nd: .NaN\ne: 6.8523015e+5\nf: 685_230.15\ng: 190:20:30.15\nh: 1e3\n",
    "[.5, +.inf, -1.0, 1., '1.0']",
    # dates and timestamps
    "a: 2024-08-12\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43.10\n"
    "d: 2002-12-14\ne: 2001-12-15T02:59:43.1Z\nf: 2001-12-14 21:59:43.1 +5\ng: '2024-08-12'",
    "a: 2024-02-30\n",
    "a: 2024-13-01\n",
    "a: 2024-8-1\n",
    # anchors, aliases, merge keys, recursive nodes
    "base: &b {x: 1, y: [2, 3]}\nother: *b\n",
    "a: &s hello\nb: *s\nc: [*s, *s]\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "- &a {x: 1}\n- &b {y: 2}\n- <<: [*a, *b]\n  z: 3\n",
    "a: &l [1, 2]\nb:\n  <<: *l\n",
    "a: {<<: 1}\n",
    "=: value\n",
    # keys that are not plain strings
    "1: a\n2: b\n",
    "yes: a\nno: b\n",
    "? [1, 2]\n: v\n",
    "? {a: 1}\n: v\n",
    "2024-01-01: a\n.inf: b\n~: c\n",
    "yes: a\ntrue: b\n",
    # duplicate keys: refused, with the line of the second
    "a: 1\nb: 2\na: 3\n",
    "x:\n  k: 1\n  k: 2\n",
    "1: a\n'1': b\n",
    # explicit tags, standard and not
    "a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\n",
    "a: !!binary aGVsbG8=\nb: !!set {a, b}\nc: !!omap [a: 1, b: 2]\nd: !!pairs [a: 1]\n",
    "a: !!timestamp 2024-W01-1\n",
    "a: !!int [1]\n",
    "a: !!map [1]\n",
    "a: !!seq {k: v}\n",
    "a: !!str {k: v}\n",
    "a: !custom 1\n",
    "a: !!python/object:os.system x\n",
    "--- !!map\nk: v\n",
    "! a\n",
    "a: ! 12\n",
    # quoted, folded and literal strings, escapes, unicode
    "a: 'it''s'\nb: \"tab\\there\\u00e9\"\nc: \"\\x41\\N\"\nd: caf\u00e9 \u201cquoted\u201d\n",
    "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n\n  para\nc: |-\n  kept\nd: >+\n  x\n\n",
    'a: >-\n    indented\n     more\nb: "multi\n  line"\nc: plain\n  continued\n',
    "a: 'x: y'\nb: \"# not a comment\"\nc: x # a comment\n",
    # documents that are not mappings, empty, several, invalid
    "",
    "# only a comment\n",
    "just a string",
    "- a\n- [b, c]\n- {d: e}\n",
    "---\na: 1\n---\nb: 2\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "a: *nowhere\n",
    "a: &x 1\nb: &x 2\n",
    "\ta: 1\n",
    "a: {b: {c: {d: {e: [1, [2, [3, {f: g}]]]}}}}\n",
    "a:\n- 1\n-\n- 3\n",
    "? a\n",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_load_as_pyyaml_loads_them(text: str) -> None:
    _assert_same(text)


def test_recursive_and_aliased_nodes_keep_pyyaml_identity() -> None:
    shared = yaml.load("a: &l [1]\nb: *l\n", Loader=SafeLoader)
    assert shared["a"] is shared["b"]
    dates = yaml.load("a: &d 2024-08-12\nb: *d\nc: &s text\nd: [*s]\n", Loader=SafeLoader)
    assert dates["a"] is dates["b"] and dates["c"] is dates["d"][0]
    looped = yaml.load("&r [*r]\n", Loader=SafeLoader)
    assert looped[0] is looped
    mapping = yaml.load("&m {k: *m}\n", Loader=SafeLoader)
    assert mapping["k"] is mapping and list(mapping) == ["k"]


def test_claim_files_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML's general constructor is not needed for a claim file (the point of it all)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("PyYAML's constructor was used")

    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_object", refuse)
    for path in claim_files(REPO_CLAIMS):
        assert isinstance(yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader), dict)
    with pytest.raises(AssertionError, match="constructor was used"):
        yaml.load("a: &x 1\nb: *x\n", Loader=SafeLoader)


def test_a_tag_on_the_wrong_kind_of_node_is_a_yaml_error() -> None:
    """``!!map`` on a sequence is PyYAML's error, reported with its line, not a crash."""
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(Path("x.yaml"), "id: a\nsources: !!map [1]\n")
    assert raised.value.line == 2
    assert "expected a mapping node, but found sequence" in raised.value.message


def test_a_duplicate_key_is_refused_with_both_lines() -> None:
    with pytest.raises(YamlSyntaxError) as raised:
        parse_yaml(Path("x.yaml"), "id: a\ntitle: T\nsummary: s\ntitle: U\n")
    assert raised.value.line == 4
    assert raised.value.message.startswith("'title' is given twice (also on line 2)")


def test_every_bundled_claim_loads_as_pyyaml_loads_it() -> None:
    files = claim_files(REPO_CLAIMS)
    assert len(files) >= 10
    for path in files:
        _assert_same(path.read_text(encoding="utf-8"))


def test_every_generated_claim_loads_as_pyyaml_loads_it(tmp_path: Path) -> None:
    make_store(1500, tmp_path, seed=5)
    files = claim_files(tmp_path)
    assert len(files) == 1500
    for path in files:
        text = path.read_text(encoding="utf-8")
        ours = yaml.load(text, Loader=SafeLoader)
        assert _same(ours, yaml.load(text, Loader=PyYamlLoader)), path
        assert _same(ours, yaml.load(text, Loader=yaml.CSafeLoader)), path
