"""Read YAML fast, and find line numbers only when something is wrong.

Parsing uses PyYAML's C safe loader (libyaml) when it is installed. Line
numbers come from a second pass that composes the node tree, which costs
about as much as the parse itself, so it only runs for files with problems:
a 100,000-claim store should not pay for error reporting it never needs.

Building Python objects from the node tree is PyYAML's constructor, written in
Python and general (aliases, recursive nodes, merge keys, custom tags): about
half of a claim file's parse. Claim files use none of that generality, so a
document made only of plain mappings, sequences and the standard scalar tags
is built by one short recursive function (``_plain``) that gives what PyYAML's
constructor gives; anything else, and any error, goes to PyYAML's own path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from bot.core.problems import Loc

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice; YAML would silently keep the last value."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# Scalar tags whose safe constructors take a scalar node and return a value
# without touching the constructor's state: called as PyYAML calls them.
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)


# Tags of short plain scalars (keys, enum values, dates): PyYAML's resolver
# tries its regular expressions on every one, ~80 times per claim file.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_MAX, _PLAIN_SHORT = 10_000, 40
_resolve = yaml.resolver.BaseResolver.resolve


class _Unusual(Exception):
    """The document needs PyYAML's general constructor (alias, merge key, other tag...)."""


def _plain(loader: Any, node: yaml.Node, seen: set[int]) -> Any:
    """The object PyYAML's safe constructor builds from ``node``, for plain documents only.

    Raises _Unusual for anything else: a node other than a string reached
    twice (an alias: PyYAML gives the same object, or refuses a recursive
    one; for a string both give ``node.value`` itself), a tag other than str,
    seq, map and the scalars above, a mapping key that is not a plain string
    (merge keys ``<<`` and ``=`` have their own tags; a non-string key may
    collide with another once built), a key given twice (our loader refuses
    it with its line). Any other exception also means "let PyYAML decide":
    the caller then runs PyYAML's constructor on the same nodes, which this
    function never modified.
    """
    tag, kind = node.tag, type(node)
    if kind is ScalarNode and tag == _STR:  # most nodes: checked first
        return node.value
    if id(node) in seen:
        raise _Unusual
    seen.add(id(node))
    if kind is ScalarNode:
        if tag not in _SCALARS:
            raise _Unusual
        return loader.yaml_constructors[tag](loader, node)
    if kind is SequenceNode and tag == _SEQ:
        return [_plain(loader, child, seen) for child in node.value]
    if kind is not MappingNode or tag != _MAP:
        raise _Unusual
    mapping = {}
    for key_node, value_node in node.value:
        if type(key_node) is not ScalarNode or key_node.tag != _STR:
            raise _Unusual
        mapping[key_node.value] = _plain(loader, value_node, seen)
    if len(mapping) != len(node.value):
        raise _Unusual  # a duplicate key: construct_mapping below reports it
    return mapping


class SafeLoader(_BaseLoader):
    """libyaml's safe loader that refuses duplicate keys instead of keeping the last one,
    and builds plain documents without PyYAML's general constructor (see ``_plain``).

    Only the constructor is Python (libyaml still parses), and the duplicate
    check is one dict per mapping, so the fast path stays fast.
    """

    def resolve(self, kind: type, value: str | None, implicit: Any) -> str:
        """PyYAML's tag for a node (this loader has no path resolvers), remembered for
        short plain scalars: with no path resolver, their tag depends on the text alone,
        and a quoted scalar is a string."""
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return _resolve(self, kind, value, implicit)
        if not implicit[0]:
            return _STR
        assert value is not None
        tag = _PLAIN_TAGS.get(value) if len(value) <= _PLAIN_SHORT else None
        if tag is None:
            tag = _resolve(self, kind, value, implicit)
            if len(value) <= _PLAIN_SHORT and len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
                _PLAIN_TAGS[value] = tag
        return tag

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            return _plain(self, node, set())
        except Exception:  # unusual or invalid: PyYAML's own path decides
            return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        first: dict[str, int] = {}
        # Not a mapping (``!!map [1]``): PyYAML's "expected a mapping node" error.
        for key_node, _ in node.value if isinstance(node, MappingNode) else ():
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise DuplicateKeyError(key_node.value, line, first[key_node.value])
            first[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


class YamlSyntaxError(Exception):
    """The file is not valid YAML; ``line`` is 1-based when the parser knows it."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class YamlDocument:
    path: Path
    text: str
    data: Any
    _root: yaml.Node | None = field(default=None, repr=False)

    def _tree(self) -> yaml.Node | None:
        if self._root is None:
            self._root = yaml.compose(self.text, Loader=SafeLoader)
        return self._root

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the node at ``loc``, or of its nearest existing parent.

        For a mapping entry the line of the key is returned: that is where a
        person looks for a field. A missing field points at its parent mapping.
        """
        node = self._tree()
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(part, str) and key_node.value == part:
                        line = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def parse_yaml(path: Path, text: str) -> YamlDocument:
    """Parse ``text`` (read from ``path``); raise YamlSyntaxError with the line."""
    try:
        data = yaml.load(text, Loader=SafeLoader)
    except DuplicateKeyError as exc:
        message = (
            f"{exc.key!r} is given twice (also on line {exc.first_line}); "
            "keep one — YAML would silently use the last"
        )
        raise YamlSyntaxError(message, exc.line) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or str(exc)
        raise YamlSyntaxError(f"invalid YAML: {reason}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from exc
    return YamlDocument(path=path, text=text, data=data)


def read_yaml(path: Path) -> YamlDocument:
    """Read and parse a UTF-8 YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"not UTF-8 text ({exc.reason})", None) from exc
    return parse_yaml(path, text)
