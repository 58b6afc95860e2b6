"""Turning claim text and user queries into comparable terms.

The same analysis runs on both sides, so whatever a person types (case,
punctuation, plurals, Slack markup, "U.S." or "Chinese") lands on the same
terms the index holds. Stemming is Snowball's English stemmer; the stop
words are ours, because chat filler ("hey", "thoughts?", "anyone", "what's
the take / the deal") and reporting verbs ("says", "calls") matter as much as
grammar words when people paste whole messages: "nvidia earnings call" is not
about a claim titled "Jensen Huang calls DeepSeek a win".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

import snowballstemmer

# snowballstemmer hands out PyStemmer's C build of the same algorithm when it
# is installed (a dependency): stemming was a tenth of building the index.
_stemmer = snowballstemmer.stemmer("english")

_DOTTED_US = re.compile(r"\bu\.\s?s\.(?:\s?a\.)?", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+|[0-9]+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any anyone anything are aren around as
    at be because been before being below between both but by can cannot could couldn did didn
    do does doesn doing don down during each else even ever every few for from further get gets
    got had has have having he her here hers herself him himself his how i if in into is isn it
    its itself just let lets like me more most much must my myself no nor not now of off on once
    only or other ought our ours ourselves out over own per please re really same say says said
    saying she should so some such tell than that the their theirs them themselves then there
    these they this those through to too under until up upon very was wasn we were weren what
    whats when where which while who whom why will with within without would wouldn yes yet you
    your yours yourself yourselves s t ll ve d m o y
    hey hi hello folks guys team thanks thank lol haha hmm ok okay yeah yep nope pls plz
    anybody someone somebody something thoughts thought think thinks wondering wonder know knows
    saw see seen read reading heard hear talk talks talking mentioned mention mentions point
    points basically actually literally pretty quite kind sort bit lot lots stuff thing things
    interesting interested curious question questions quick via new news latest today yesterday
    week one ones way ways maybe perhaps probably anyway still already right left
    take takes deal
    call calls called calling
    """.split()
)


def fold(text: str) -> str:
    """Unicode-fold and lower-case text, keeping letters, digits and spaces apart."""
    text = text.translate(_APOSTROPHES)
    if not text.isascii():  # ASCII text has no accents to fold
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _DOTTED_US.sub(" us ", text)
    return text.casefold()


def words(text: str) -> list[str]:
    """Folded word tokens, letters and digits split ("sora2" -> "sora", "2")."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


class Analyzer:
    """Words -> canonical terms: fold, then stem, then synonyms on the stems.

    Synonyms map several spellings onto one canonical word or phrase
    (``chinese`` -> ``china``), so claim authors need not list every form.
    They are looked up by *stem*, so a variant carries its inflections:
    listing ``invent`` also covers "invented" and "inventing", and
    ``roll out`` covers "rolled out". Looking up the surface word first would
    miss every inflection the config does not spell out.
    """

    def __init__(self, synonyms: Mapping[str, Iterable[str]] | None = None) -> None:
        self._single: dict[str, tuple[str, ...]] = {}
        phrases: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        for canonical, variants in (synonyms or {}).items():
            target = tuple(words(canonical))
            for variant in variants:
                source = tuple(stem(w) for w in words(variant))
                if len(source) == 1:
                    self._single[source[0]] = target
                elif source:
                    phrases.append((source, target))
        phrases.sort(key=lambda item: -len(item[0]))
        # Phrases by the stem of their first word, longest first: one dict
        # lookup per token instead of trying every phrase at every position.
        self._by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for source, target in phrases:
            self._by_first.setdefault(source[0], []).append((source, target))

    def canonical_words(self, text: str) -> list[str]:
        """Folded words with synonym phrases and words replaced by their canonical form."""
        tokens = words(text)
        stems = list(map(stem, tokens))
        by_first, single = self._by_first, self._single
        if by_first.keys().isdisjoint(stems):  # no synonym phrase can start here
            return [w for s, t in zip(stems, tokens, strict=True) for w in single.get(s, (t,))]
        result: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            for source, target in by_first.get(stems[i], ()):
                if tuple(stems[i : i + len(source)]) == source:
                    result.extend(target)
                    i += len(source)
                    break
            else:
                result.extend(single.get(stems[i], (tokens[i],)))
                i += 1
        return result


def is_content_word(word: str) -> bool:
    """A word worth matching on: not a stop word, not a single letter."""
    if word.isdigit():
        return True
    return len(word) > 1 and word not in STOP_WORDS
