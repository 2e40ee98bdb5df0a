"""Trigram similarity with pg_trgm's rules, as pure functions.

pg_trgm lower-cases the text, splits it into words of alphanumeric characters, pads each word
with two spaces in front and one behind, and takes every three-character window; similarity is
the number of shared trigrams over the number of distinct trigrams in either string.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

DEFAULT_THRESHOLD = 0.3

# Everything that is not a letter or a digit separates words ("_" included, as in pg_trgm).
_SEPARATORS = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    """The lower-cased alphanumeric words of text, in order."""
    return [w for w in _SEPARATORS.split(text.lower()) if w]


def _word_trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def trigrams(text: str) -> frozenset[str]:
    """pg_trgm's show_trgm(text) as a set: "cat" -> {"  c", " ca", "cat", "at "}."""
    result: set[str] = set()
    for word in words(text):
        result |= _word_trigrams(word)
    return frozenset(result)


def trigram_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 when either set is empty (pg_trgm returns 0 then too)."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(a, b)."""
    return trigram_similarity(trigrams(a), trigrams(b))


def score(query: str, texts: Iterable[str]) -> float:
    """How well query matches a document whose searchable field values are texts.

    The result is the best pg_trgm similarity between the query and any candidate string, where
    the candidates are each whole field value and each single word of each field value. The
    similarity formula is pg_trgm's; only what it is applied to differs. Whole-string similarity
    punishes every trigram of a long text that the query lacks, so a short query such as "vpn"
    scores about 0.1 against "VPN disconnects every 10 minutes" and would never pass the 0.3
    threshold; comparing it with the word "VPN" as well gives 1.0. Comparing with the whole field
    keeps multi-word queries and exact values (a ticket number, an e-mail address) at full score.
    """
    return best_similarity(trigrams(query), texts)


def best_similarity(query_trigrams: frozenset[str], texts: Iterable[str],
                    memo: dict[str, float] | None = None) -> float:
    """score() for a query already split into trigrams. memo (text -> its similarity) saves
    scoring a text again within one search: subjects and e-mail addresses recur a lot."""
    if not query_trigrams:
        return 0.0
    best = 0.0
    for text in texts:
        value = memo.get(text) if memo is not None else None
        if value is None:
            value = text_similarity(query_trigrams, text)
            if memo is not None:
                memo[text] = value
        best = max(best, value)
    return best


def text_similarity(query_trigrams: frozenset[str], text: str) -> float:
    """The best similarity of the query with the whole text or any one of its words."""
    word_sets = [_word_trigram_set(word) for word in set(words(text))]
    if not word_sets:
        return 0.0
    whole = word_sets[0].union(*word_sets[1:]) if len(word_sets) > 1 else word_sets[0]
    q = len(query_trigrams)
    shared = len(query_trigrams & whole)
    if not shared:
        return 0.0
    # The same float expression as trigram_similarity, so scores are bit-for-bit the same.
    best = shared / (q + len(whole) - shared)
    for word_set in word_sets:
        shared = len(query_trigrams & word_set)
        if shared:
            best = max(best, shared / (q + len(word_set) - shared))
    return best


@lru_cache(maxsize=8192)
def _word_trigram_set(word: str) -> frozenset[str]:
    # Words recur across documents far more than texts do; a few MB at most.
    return frozenset(_word_trigrams(word))


def min_shared(query_trigram_count: int, threshold: float) -> int:
    """The fewest trigrams a candidate must share with the query to reach threshold.

    With q query trigrams, w candidate trigrams and s shared (s <= w), similarity is
    s / (q + w - s) <= s / (q + s - s) = s / q, so reaching t needs s >= t * q; the bound is tight
    (a candidate whose trigrams are all in the query has similarity exactly s / q). It holds for
    a document's trigrams as a whole too, since they include every candidate's. The smallest such
    s is searched with the same float division the score uses, so rounding can never prune a
    candidate the score would accept. Never less than 1: sharing nothing is never a match.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold!r}")
    if query_trigram_count <= 0:
        return 1
    for shared in range(1, query_trigram_count + 1):
        if shared / query_trigram_count >= threshold:
            return shared
    return query_trigram_count  # unreachable: q / q == 1 >= any threshold <= 1


def rarest_first(query_trigrams: Iterable[str], frequencies: Mapping[str, int] | None = None) -> list[str]:
    """The query trigrams, those in the fewest documents first.

    frequencies are document counts, exact or estimated (a trigram absent from them counts as
    rare); without them, word-boundary trigrams ("  p", "s ") go last, as they recur in countless
    words. The order only changes how much is read, never what is found.
    """
    frequencies = frequencies or {}
    return sorted(query_trigrams, key=lambda t: (frequencies.get(t, 0), " " in t, t))


def probe_trigrams(query_trigrams: Iterable[str], needed: int,
                   frequencies: Mapping[str, int] | None = None) -> list[str]:
    """Query trigrams enough to find, by index, every text sharing at least needed of them.

    A text sharing `needed` of the q query trigrams misses at most q - needed of them, so it holds
    at least one of any q - needed + 1; the rarest are taken.
    """
    ordered = rarest_first(query_trigrams, frequencies)
    return ordered[:max(len(ordered) - needed + 1, 1)]


# Past this many trigrams, best_possible_similarity falls back to the plain bound (subsets grow
# as 2^n; the queries that need the bound have about 10).
STRUCTURE_LIMIT = 12


def best_possible_similarity(available: Iterable[str], query_trigrams: frozenset[str]) -> float:
    """An upper bound on the similarity (score) with a query of any text whose only query
    trigrams are among `available`.

    The plain bound is len(available) / q: a text made only of them. But trigrams come from
    words: each word's trigrams are a walk over two-character nodes ("  " -> " w" -> "wo" ...
    -> "d "), one trigram per step. For a text sharing the set S with the query: every trigram of
    S that does not start a word ("  x") is preceded in its word by a trigram ending in the node
    it starts from; if no trigram of S ends there, that one is not a query trigram. Likewise
    every trigram of S that does not end a word ("xy ") is followed by one starting where it
    ends. Such entry and exit nodes each force a distinct non-query trigram, except that one
    trigram can serve an exit a and an entry b when a[1] == b[0] and a + b[1] is not a query
    trigram. (A word's second trigram " xy" always follows "  x": if that is a query trigram
    outside S, no text shares exactly S.) So the text holds at least entries + exits - (a
    matching between them) trigrams outside the query, and its similarity is at most
    |S| / (q + that). The bound is the best of this over every S.
    """
    trigram_list = sorted(set(available))
    n, q = len(trigram_list), len(query_trigrams)
    if n == 0 or q == 0:
        return 0.0
    if n > STRUCTURE_LIMIT:
        return min(n / q, 1.0)
    return _best_over_subsets(tuple(trigram_list), frozenset(query_trigrams))


@lru_cache(maxsize=4096)
def _best_over_subsets(trigram_list: tuple[str, ...], query_trigrams: frozenset[str]) -> float:
    query_size = len(query_trigrams)
    nodes: dict[str, int] = {}

    def bit(node: str) -> int:
        return 1 << nodes.setdefault(node, len(nodes))

    tails = [bit(t[:2]) for t in trigram_list]
    heads = [bit(t[1:]) for t in trigram_list]
    start = bit("  ")
    terminal = sum(1 << i for node, i in nodes.items() if node.endswith(" "))
    # Entry nodes " x" whose only way in, "  x", is a query trigram: it would be shared.
    barred = sum(1 << i for node, i in nodes.items() if node[0] == " " != node[1] and " " + node in query_trigrams)
    # For an entry node b: the exit nodes a one non-query trigram a + b[1] leads from.
    feeds = {1 << i: sum(1 << j for other, j in nodes.items()
                         if other[1] == node[0] and other + node[1] not in query_trigrams)
             for node, i in nodes.items()}
    best = 0.0
    for size in range(len(trigram_list), 0, -1):
        if size / query_size <= best:
            break   # smaller sets cannot beat it even with nothing outside the query
        for subset in itertools.combinations(range(len(trigram_list)), size):
            ins = outs = 0
            for i in subset:
                ins |= heads[i]
                outs |= tails[i]
            entries = outs & ~ins & ~start
            if entries & barred:
                continue
            exits = ins & ~outs & ~terminal
            forced = entries.bit_count() + exits.bit_count() - _matching_bound(entries, exits, feeds)
            best = max(best, size / (query_size + forced))
    return best


def _matching_bound(entries: int, exits: int, feeds: dict[int, int]) -> int:
    """An upper bound on the largest matching of exits to the entries they can feed."""
    if not entries or not exits:
        return 0
    fed = feeding = 0
    remaining = entries
    while remaining:
        low = remaining & -remaining
        remaining ^= low
        sources = feeds[low] & exits
        if sources:
            fed += 1
            feeding |= sources
    return min(fed, feeding.bit_count())
