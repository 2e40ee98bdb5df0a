"""Trigram search: pg_trgm-style scoring (trigram.py) and what is searchable (fields.py)."""
from .fields import (
    SEARCH_CATEGORIES,
    SEARCH_FIELDS,
    SEARCH_TERMS_FIELD,
    search_terms,
    search_terms_update,
    searchable_texts,
    with_search_terms,
)
from .trigram import (
    DEFAULT_THRESHOLD,
    best_possible_similarity,
    best_similarity,
    min_shared,
    probe_trigrams,
    rarest_first,
    score,
    similarity,
    trigrams,
    words,
)

__all__ = [
    "DEFAULT_THRESHOLD", "SEARCH_CATEGORIES", "SEARCH_FIELDS", "SEARCH_TERMS_FIELD", "best_possible_similarity",
    "best_similarity",
    "min_shared", "probe_trigrams", "rarest_first", "score", "search_terms", "search_terms_update", "searchable_texts",
    "similarity", "trigrams", "with_search_terms", "words",
]
