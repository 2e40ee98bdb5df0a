"""What is searchable in each collection, and the stored trigrams that make it indexable.

A searchable document carries `search_tg`: the sorted trigrams of all its searchable field
values. A multikey index on it lets a query find candidates by trigram without a scan, so every
write of a searchable field must rewrite `search_tg` too: inserts go through with_search_terms,
updates through search_terms_update (or with_search_terms on the full new document).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping

from .trigram import trigrams

SEARCH_TERMS_FIELD = "search_tg"

SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "tickets": ("subject", "number", "requester.email"),
    "customers": ("name",),
    "assets": ("name", "hardware.serial_number"),
    "alerts": ("title",),
    "notes": ("body",),
}

# search_global's categories and the collection each one searches.
SEARCH_CATEGORIES: dict[str, str] = {
    "customers": "customers", "tickets": "tickets", "devices": "assets", "alerts": "alerts",
    "notes": "notes",
}


def _texts_at(value, path: list[str]) -> list[str]:
    """The text values at a dotted path, descending into arrays the way MongoDB does."""
    if isinstance(value, list):
        return [text for item in value for text in _texts_at(item, path)]
    if not path:
        if isinstance(value, str):
            return [value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return [str(value)]
        return []
    if isinstance(value, Mapping):
        return _texts_at(value.get(path[0]), path[1:])
    return []


def searchable_texts(collection: str, doc: Mapping) -> list[str]:
    """The values of the collection's searchable fields in doc, in field order."""
    return [text for field in SEARCH_FIELDS.get(collection, ())
            for text in _texts_at(doc, field.split("."))]


def search_terms(collection: str, doc: Mapping) -> list[str]:
    """The sorted trigrams of every searchable field value of doc."""
    terms: set[str] = set()
    for text in searchable_texts(collection, doc):
        terms |= trigrams(text)
    return sorted(terms)


def with_search_terms(collection: str, doc: dict) -> dict:
    """A copy of doc with a fresh `search_tg` for searchable collections; doc itself otherwise."""
    if collection not in SEARCH_FIELDS:
        return doc
    return {**doc, SEARCH_TERMS_FIELD: search_terms(collection, doc)}


def _touches(changed: str, field: str) -> bool:
    return changed == field or field.startswith(changed + ".") or changed.startswith(field + ".")


def search_terms_update(collection: str, changes: Mapping, current_doc: Mapping) -> dict:
    """The `$set` document for applying changes to current_doc, with `search_tg` when needed.

    changes maps field paths (dotted or not) to new values, as for `$set`; None empties a field
    for search. When a change touches a searchable field (the field itself, a parent such as
    "requester", or a part of it), the returned document also sets `search_tg`, computed from
    current_doc with the changes applied. current_doc must be the document as stored: if another
    writer may change its searchable fields concurrently, make the update conditional on them.
    """
    if SEARCH_TERMS_FIELD in changes:
        raise ValueError(f"{SEARCH_TERMS_FIELD} is derived; change the searchable fields instead")
    update = dict(changes)
    fields = SEARCH_FIELDS.get(collection, ())
    relevant = {path: value for path, value in changes.items()
                if any(_touches(path, field) for field in fields)}
    if not relevant:
        return update
    new_doc = copy.deepcopy(dict(current_doc))
    for path, value in relevant.items():
        _set_path(new_doc, path.split("."), value)
    update[SEARCH_TERMS_FIELD] = search_terms(collection, new_doc)
    return update


def _set_path(doc: dict, path: list[str], value) -> None:
    for key in path[:-1]:
        child = doc.get(key)
        if not isinstance(child, dict):
            child = doc[key] = {}
        doc = child
    doc[path[-1]] = value
