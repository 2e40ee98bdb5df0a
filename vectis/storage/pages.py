"""Keyset pagination: stable pages under concurrent inserts, and an index seek per page."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

_LOWER = {"$gt", "$gte"}
_UPPER = {"$lt", "$lte"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def keyset_filter(sort: list[tuple[str, int]], after: list[Any]) -> dict:
    """Documents strictly after `after` in `sort` order (the last sort field must be unique)."""
    return {"$or": keyset_branches(sort, after)}


def keyset_branches(sort: list[tuple[str, int]], after: list[Any]) -> list[dict]:
    """The parts of keyset_filter, one per sort field: equal on the fields before it, strictly
    after on it. Branch i's documents all come before branch i-1's in sort order."""
    branches = []
    for i, (field, direction) in enumerate(sort):
        branch = {f: v for (f, _), v in zip(sort[:i], after[:i], strict=True)}
        branch[field] = {"$gt" if direction == 1 else "$lt": after[i]}
        branches.append(branch)
    return branches


def merge_conditions(query: dict, extra: dict) -> dict:
    """query AND extra as one flat filter, conditions on one field merged into one operator
    document (an `$and` or `$or` at the top keeps SecantusDB from using any index)."""
    merged = dict(query)
    for field, condition in extra.items():
        if field not in merged:
            merged[field] = condition
            continue
        mine = merged[field] if isinstance(merged[field], dict) else {"$eq": merged[field]}
        theirs = condition if isinstance(condition, dict) else {"$eq": condition}
        if any(op not in _LOWER | _UPPER | {"$eq"} for op in (*mine, *theirs)):
            return {"$and": [query, extra]}  # not a plain range: let the database combine them
        combined = dict(mine)
        if any(op in combined and type(combined[op]) is not type(value) for op, value in theirs.items()):
            return {"$and": [query, extra]}  # bounds of different BSON types: no max() of them
        for op, value in theirs.items():
            if op not in combined:
                combined[op] = value
            elif op in _LOWER:
                combined[op] = max(combined[op], value)
            elif op in _UPPER:
                combined[op] = min(combined[op], value)
            elif combined[op] != value:
                combined["$in"] = []        # two different equalities: nothing matches
        merged[field] = combined
    return merged


async def find_page(collection: AsyncCollection, query: dict, sort: list[tuple[str, int]], limit: int,
                    after: list[Any] | None = None, projection: dict | None = None,
                    ) -> tuple[list[dict], list[Any] | None]:
    """One page and the key to continue after it (None on the last page).

    A later page is read as one query per keyset branch, deepest tie first, each a plain range
    the sort's index serves, until the page is full. The single `$or` it replaces is the same
    set of documents, but SecantusDB answers any top-level `$or` with a collection scan."""
    if sort[-1][0] != "_id":
        raise ValueError("the last sort field must be _id")
    if after is None:
        docs = await collection.find(query, projection).sort(sort).limit(limit + 1).to_list()
    else:
        if len(after) != len(sort):
            raise ValueError("cursor does not match this sort")
        docs = []
        for branch in reversed(keyset_branches(sort, after)):
            docs += await collection.find(merge_conditions(query, branch), projection).sort(sort).limit(
                limit + 1 - len(docs)).to_list()
            if len(docs) > limit:
                break
    if len(docs) <= limit:
        return docs, None
    docs = docs[:limit]
    last = docs[-1]
    return docs, [_get(last, field) for field, _ in sort]


def _get(doc: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


# Widths of the successive windows a newest-first page reads, as multiples of its first window:
# growing by 3, since a window that is 7 times wider than an empty one could hold thousands
# (at 50,000 tickets a tenant-wide first page read 124 ms with 1, 7, 56, 448 and 47 ms with these).
WINDOW_GROWTH = tuple(3 ** i for i in range(9))


async def find_recent_page(collection: AsyncCollection, queries: list[dict], sort: list[tuple[str, int]],
                           limit: int, after: list[Any] | None, projection: dict | None,
                           first_window: timedelta, now: datetime) -> tuple[list[dict], list[Any] | None]:
    """find_page for a newest-first sort [(time field, -1), ("_id", -1)] over the union of
    `queries` (disjoint: e.g. one per status of a `$in`), read in windows of time going back.

    Same documents and order as one query would give. But SecantusDB materialises every document
    an index range holds before it sorts and limits, so the newest 20 of 7,000 open tickets read
    all 7,000. Here each query is an index range over one window (first_window, then 3, 9, 27 ...
    times as long, then the rest), and reading stops at the window that fills the page: it
    reads about what the page shows, on MongoDB as on SecantusDB."""
    field = sort[0][0]
    if len(sort) != 2 or sort[0][1] != -1 or sort[1] != ("_id", -1):
        raise ValueError("find_recent_page reads a [(time field, -1), ('_id', -1)] sort")
    want = limit + 1
    found: list[dict] = []

    async def read(extra: dict) -> None:
        parts = await asyncio.gather(*(collection.find(merge_conditions(q, extra), projection).sort(
            sort).limit(want - len(found)).to_list() for q in queries))
        ordered = sorted((d for part in parts for d in part),
                         key=lambda d: (_get(d, field) or _EPOCH, d["_id"]), reverse=True)
        found.extend(ordered[:want - len(found)])

    if after is not None and len(after) != 2:
        raise ValueError("cursor does not match this sort")
    cursor_time = after[0] if after is not None else None
    if after is None or cursor_time is not None:
        if after is not None:   # the rest of the cursor's time: equalities an index serves
            ties = await asyncio.gather(*(collection.find(merge_conditions(q, {field: cursor_time}),
                                                          projection).to_list() for q in queries))
            found.extend(sorted((d for part in ties for d in part if d["_id"] < after[1]),
                                key=lambda d: d["_id"], reverse=True)[:want])
        # Windows back from the cursor's time, or from now on a first page (whose first window
        # is open upwards: a time in the future is still the newest).
        top, bottom = cursor_time, cursor_time or now
        for growth in (*WINDOW_GROWTH, None):
            if len(found) >= want:
                break
            window = {} if top is None else {"$lt": top}
            if growth is not None:
                bottom = bottom - growth * first_window
                window["$gte"] = bottom
            await read({field: window})
            top = bottom
    if len(found) < want:
        # Documents without the time come last, as one query's sort puts them.
        await read({field: None, **({"_id": {"$lt": after[1]}} if cursor_time is None and after else {})})
    if len(found) <= limit:
        return found, None
    del found[limit:]
    return found, [_get(found[-1], f) for f, _ in sort]
