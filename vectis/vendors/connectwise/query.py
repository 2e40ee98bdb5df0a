"""How the ConnectWise Manage simulator answers a list request: the `conditions` query language
(`field/sub op value` clauses joined by and/or, "and" binding tighter), `orderBy`, and
page/pageSize paging with an RFC 5988 `Link` header.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from yarl import URL

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25

_CLAUSE = re.compile(r'\s*([\w/.]+)\s*(<=|>=|!=|=|<|>|\s(?:not\s+)?(?:contains|like)\s)\s*'
                     r'("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s()\[\]"]+)\s*', re.I)
_JOIN = re.compile(r'(and|or)\b', re.I)


def parse_conditions(text: str):
    """A predicate over records; ValueError on text this subset cannot read."""
    groups: list[list] = [[]]
    pos = 0
    while True:
        clause = _CLAUSE.match(text, pos)
        if clause is None:
            raise ValueError(f"cannot read conditions at {pos}: {text[pos:pos + 30]!r}")
        field, op, value = (clause.group(1), " ".join(clause.group(2).lower().split()),
                            _value(clause.group(3)))
        groups[-1].append(lambda r, f=field, o=op, v=value: _compare(lookup(r, f), o, v))
        pos = clause.end()
        if pos >= len(text):
            return lambda r: any(all(p(r) for p in group) for group in groups)
        join = _JOIN.match(text, pos)
        if join is None:
            raise ValueError(f"expected and/or at {pos}")
        if join.group(1).lower() == "or":
            groups.append([])
        pos = join.end()


def _value(raw: str) -> Any:
    if raw.startswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if raw.startswith("["):
        if (parsed := parse_dt(raw[1:-1].strip())) is None:
            raise ValueError(f"bad date {raw}")
        return parsed
    if raw.lower() in ("true", "false", "null"):
        return None if raw.lower() == "null" else raw.lower() == "true"
    return int(raw) if re.fullmatch(r"-?\d+", raw) else raw


def parse_dt(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lookup(record: dict, field: str) -> Any:
    """`company/id` paths, case-insensitive like CW; `lastUpdated`/`dateEntered` are in `_info`."""
    current: Any = record
    for depth, part in enumerate(field.split("/")):
        if not isinstance(current, dict):
            return None
        keys = {k.lower(): k for k in current}
        if part.lower() in keys:
            current = current[keys[part.lower()]]
        elif depth == 0 and isinstance(current.get("_info"), dict):
            current = current["_info"].get(part)
        else:
            return None
    return current


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, datetime):
        actual = parse_dt(actual)
    elif isinstance(expected, str) and isinstance(actual, str):
        actual, expected = actual.lower(), expected.lower()    # SQL Server collation
    if op.endswith(("contains", "like")):
        text, needle = str(actual or "").lower(), str(expected).lower()
        found = (re.fullmatch(re.escape(needle).replace("%", ".*"), text) is not None
                 if op.endswith("like") else needle in text)
        return found != op.startswith("not")
    if actual is None or expected is None:
        return (actual is expected) == (op == "=") if op in ("=", "!=") else False
    try:
        return {"=": actual == expected, "!=": actual != expected, "<": actual < expected,
                ">": actual > expected, "<=": actual <= expected, ">=": actual >= expected}[op]
    except TypeError:
        return False


def select(query: Mapping[str, str], items: list[dict]) -> tuple[list[dict], int, int]:
    """The records `conditions` keeps, with the page and pageSize asked for; ValueError on a bad
    page, pageSize or conditions."""
    page = int(query.get("page", 1))
    size = min(int(query.get("pageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
    if page < 1 or size < 1:
        raise ValueError("page and pageSize must be positive")
    if query.get("conditions"):
        predicate = parse_conditions(query["conditions"])
        items = [item for item in items if predicate(item)]
    return items, page, size


def paginate(query: Mapping[str, str], url: URL, items: list[dict], page: int,
             size: int) -> tuple[list[dict], dict[str, str]]:
    """Sort by `orderBy` and cut one page: its records, and first/prev/next/last in `Link`."""
    for clause in reversed(query.get("orderBy", "id asc").split(",")):
        field, _, direction = clause.strip().partition(" ")
        items = sorted(items, key=lambda r, f=field: (lookup(r, f) is None, lookup(r, f) or 0),
                       reverse=direction.strip().lower() == "desc")
    last = max(1, math.ceil(len(items) / size))
    links = [(1, "first"), (page - 1, "prev")] if page > 1 else []
    links += [(page + 1, "next"), (last, "last")] if page < last else []
    headers = {"Link": ", ".join(f'<{url.update_query(page=p, pageSize=size)}>; '
                                 f'rel="{rel}"' for p, rel in links)} if links else {}
    return items[(page - 1) * size: page * size], headers
