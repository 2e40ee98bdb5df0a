"""Keyset pagination: stable pages under concurrent inserts, and an index seek per page."""
from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


def keyset_filter(sort: list[tuple[str, int]], after: list[Any]) -> dict:
    """Documents strictly after `after` in `sort` order (the last sort field must be unique)."""
    branches = []
    for i, (field, direction) in enumerate(sort):
        branch = {f: v for (f, _), v in zip(sort[:i], after[:i], strict=True)}
        branch[field] = {"$gt" if direction == 1 else "$lt": after[i]}
        branches.append(branch)
    return {"$or": branches}


async def find_page(collection: AsyncCollection, query: dict, sort: list[tuple[str, int]], limit: int,
                    after: list[Any] | None = None, projection: dict | None = None,
                    ) -> tuple[list[dict], list[Any] | None]:
    """One page and the key to continue after it (None on the last page)."""
    if sort[-1][0] != "_id":
        raise ValueError("the last sort field must be _id")
    if after is not None:
        if len(after) != len(sort):
            raise ValueError("cursor does not match this sort")
        query = {"$and": [query, keyset_filter(sort, after)]} if query else keyset_filter(sort, after)
    docs = await collection.find(query, projection).sort(sort).limit(limit + 1).to_list()
    if len(docs) <= limit:
        return docs, None
    docs = docs[:limit]
    last = docs[-1]
    return docs, [_get(last, field) for field, _ in sort]


def _get(doc: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc
