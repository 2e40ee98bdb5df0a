"""How the Autotask PSA simulator answers `/{Entity}/query`: the `filter` conditions (field ops
and nested `and`/`or`), read from a POST body or from the `search=` JSON of a GET, and paging by
id: at most `maxRecords` (500) per page, `includeFields`, and the `prevPageUrl` / `nextPageUrl`
that carry the paging cursor. A query that began as a POST is followed by POSTing the same body
to its `nextPageUrl` (what the public clients do); a GET query's links also carry `search=`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

MAX_RECORDS = 500
OPS = ("eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains", "exist",
       "notExist", "in", "notIn", "and", "or")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T")


async def read_search(request: web.Request) -> tuple[dict, dict]:
    """The query (POST body or `search=` JSON) and the paging state of a `next` URL."""
    if request.method == "POST":
        query = await request.json()
    else:
        query = json.loads(request.query.get("search") or "null")
    paging = json.loads(request.query.get("paging") or "{}")
    if isinstance(query, dict):
        # Autotask reads the QueryModel's names case-insensitively (its own example says
        # `Filter`, `MaxRecords`, `IncludeFields`).
        query = {KEYS.get(k.lower(), k): v for k, v in query.items()}
    if not isinstance(query, dict) or not isinstance(query.get("filter"), list) or \
            not query["filter"]:
        raise ValueError("A query needs a non-empty filter.")
    return query, paging


KEYS = {"filter": "filter", "maxrecords": "maxRecords", "includefields": "includeFields"}


def page_size(query: dict, paging: dict) -> int:
    """A `next` URL's page size wins over the query's `maxRecords`."""
    size = int(paging.get("pageSize") or query.get("maxRecords") or MAX_RECORDS)
    if not 1 <= size <= MAX_RECORDS:
        raise ValueError(f"maxRecords must be between 1 and {MAX_RECORDS}.")
    return size


def select(rows: Iterable[dict], conditions: list) -> list[dict]:
    """The rows every condition keeps, in id order (the order the paging cursor walks)."""
    predicates = [matcher(c) for c in conditions]
    return sorted((r for r in rows if all(p(r) for p in predicates)), key=lambda r: r["id"])


def page(rows: list[dict], query: dict, paging: dict, size: int, next_url: str,
         with_search: bool = False) -> dict:
    """One `{items, pageDetails}` page of `rows` at the cursor in `paging`; `next_url` is the
    `.../query/next` address the prev/next links point at. `with_search`: the links carry the
    query as `search=` (a GET query); after a POST they carry only `paging`."""
    after, before = paging.get("afterId"), paging.get("beforeId")
    if before is not None:
        rows = [r for r in rows if r["id"] < before][-size:]
        start = 0
    else:
        start = next((i for i, r in enumerate(rows) if r["id"] > after), len(rows)) \
            if after is not None else 0
    items, more = rows[start:start + size], start + size < len(rows)
    if fields := query.get("includeFields"):
        wanted = {f.lower() for f in fields} | {"id"}
        items = [{k: v for k, v in r.items() if k.lower() in wanted} for r in items]

    def link(**cursor) -> str:
        params = {"paging": json.dumps({"pageSize": size, **cursor})}
        if with_search:
            params["search"] = json.dumps(query)
        return next_url + "?" + urlencode(params)
    ids = [r["id"] for r in items]
    has_prev = bool(ids) and any(r["id"] < ids[0] for r in rows)
    return {"items": items, "pageDetails": {
        "count": len(items), "requestCount": size,
        "prevPageUrl": link(beforeId=ids[0]) if has_prev else None,
        "nextPageUrl": link(afterId=ids[-1]) if more and ids else None}}


def matcher(condition: Any):
    """A predicate for one filter condition (nested `and`/`or` through `items`)."""
    if not isinstance(condition, dict) or condition.get("op") not in OPS:
        raise ValueError(f"invalid filter condition {json.dumps(condition)[:80]}")
    op = condition["op"]
    if op in ("and", "or"):
        parts = [matcher(item) for item in condition.get("items") or []]
        if not parts:
            raise ValueError(f"'{op}' needs items")
        combine = all if op == "and" else any
        return lambda record: combine(part(record) for part in parts)
    name, expected = condition.get("field"), condition.get("value")
    if not isinstance(name, str) or not name:
        raise ValueError(f"'{op}' needs a field")
    if op in ("in", "notIn") and not any(isinstance(v, str) and _DATE.match(v) for v in expected or []):
        # A set, not a scan of the list per record: sync asks for the notes of 500 tickets at a
        # time, and a linear `in` made each page cost O(notes × tickets).
        wanted = {_in_key(v) for v in expected or []}
        return lambda record: (_in_key(_get(record, name)) in wanted) == (op == "in")
    return lambda record: _test(_get(record, name), op, expected)


def _in_key(value: Any) -> Any:
    """The value `eq` would compare: numbers (and numeric strings) as float, text case-folded."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value.lower()
    return value


def _get(record: dict, name: str) -> Any:
    lowered = name.lower()     # Autotask field names are case-insensitive
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def _norm(value: Any) -> Any:
    if isinstance(value, str) and _DATE.match(value):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value.lower() if isinstance(value, str) else value   # SQL collation


def _test(actual: Any, op: str, expected: Any) -> bool:
    if op in ("exist", "notExist"):
        return (actual not in (None, "")) == (op == "exist")
    if op in ("in", "notIn"):
        return any(_test(actual, "eq", v) for v in expected or []) == (op == "in")
    a, e = _norm(actual), _norm(expected)
    if isinstance(a, (int, float)) and isinstance(e, str):
        try:
            e = float(e)
        except ValueError:
            return False
    if op in ("beginsWith", "endsWith", "contains"):
        a, e = str(a or "").lower(), str(e or "").lower()
        return {"beginsWith": a.startswith, "endsWith": a.endswith, "contains": a.__contains__}[op](e)
    if a is None or e is None:
        return (a is e) == (op == "eq") if op in ("eq", "noteq") else False
    try:
        return {"eq": a == e, "noteq": a != e, "gt": a > e, "gte": a >= e, "lt": a < e,
                "lte": a <= e}[op]
    except TypeError:
        return False
