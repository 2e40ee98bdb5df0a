"""Pages in ascending name order, read as narrow ranges of names (SecantusDB)."""
from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from .pages import find_page, merge_conditions

# Upper bounds of the windows within one character position. The first character steps one
# letter at a time (a letter of 23,000 devices holds up to ~2,500); later positions step through
# every digit and letter with a doubling stride, since what they hold is bounded by the first.
_FIRST = [" ", "0", ":", *string.ascii_uppercase, "[", *string.ascii_lowercase, "{", "\x80"]
_LATER = [" ", *string.digits, ":", *string.ascii_uppercase, "[", *string.ascii_lowercase, "{", "\x80"]


def name_windows(after: str) -> Iterator[str]:
    """Increasing upper bounds above `after`, each window [previous bound, bound) small, widening
    from the last character of `after` towards its first; past the last bound come the rest."""
    for depth in range(len(after), 0, -1):
        prefix, char = after[:depth - 1], after[depth - 1]
        bounds = [b for b in (_FIRST if depth == 1 else _LATER) if b > char]
        if depth == 1:
            yield from (prefix + b for b in bounds)
            continue
        i, stride = 0, 1
        while i < len(bounds):
            yield prefix + bounds[i]
            i, stride = i + stride, stride * 2
    if not after:
        yield from _FIRST


async def find_name_page(collection: AsyncCollection, query: dict, field: str, limit: int,
                         after: list[Any] | None, projection: dict | None, windows: bool = True,
                         ) -> tuple[list[dict], list[Any] | None]:
    """find_page for the sort [(field, 1), ("_id", 1)] over string (or missing) names.

    The same documents and order as one sorted query. But SecantusDB decodes every document of
    an index range before it limits, so the first 20 of 23,000 devices by name read all 23,000.
    Here each query is an index range over a window of names (see name_windows) and reading
    stops at the window that fills the page. Needs an index (the query's one equality field if
    any, field, _id); a query of more fields has none, and is read as find_page reads it, as is
    one whose range is small anyway (windows=False)."""
    sort = [(field, 1), ("_id", 1)]
    if after is not None and (len(after) != 2 or not (after[0] is None or isinstance(after[0], str))):
        return await find_page(collection, query, sort, limit, after, projection)
    want = limit + 1
    found: list[dict] = []

    async def read(extra: dict) -> None:
        found.extend(await collection.find(merge_conditions(query, extra), projection).sort(sort).limit(
            want - len(found)).to_list())

    if not windows or len(query) > 1:
        if after is None or after[0] is not None:
            return await find_page(collection, query, sort, limit, after, projection)
        # After a missing name: find_page's branch {field: {$gt: null}} would match nothing.
        await read({field: None, "_id": {"$gt": after[1]}})
        if len(found) < want:
            await read({field: {"$gte": ""}})
        return _page(found, field, limit)
    if after is None:
        await read({field: None})       # missing and null names sort first
    else:                               # the rest of the cursor's name: equality, then an _id range
        await read({field: after[0], "_id": {"$gt": after[1]}})
    start = after[0] if after is not None and after[0] is not None else None
    lower = {"$gt": start} if start is not None else {"$gte": ""}
    for upper in name_windows(start or ""):
        if len(found) >= want:
            break
        await read({field: {**lower, "$lt": upper}})
        lower = {"$gte": upper}
    if len(found) < want:
        await read({field: lower})
    return _page(found, field, limit)


def _page(found: list[dict], field: str, limit: int) -> tuple[list[dict], list[Any] | None]:
    if len(found) <= limit:
        return found, None
    del found[limit:]
    return found, [found[-1].get(field), found[-1]["_id"]]
