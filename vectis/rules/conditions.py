"""Rule conditions: the context paths they read, their validation at save time and their
evaluation against a context of loaded objects.

A context is a dict of plain documents: `event` (the sync event) and whichever of `ticket`,
`alert`, `customer`, `backup_job`, `asset` the engine loaded for it. A path reads `id` from a
document's `_id` when the document has no `id` of its own, so stored documents and tool views
address the same way.
"""
from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from typing import Any

from .regexes import compiled, regex_problem

PATH_RE = re.compile(r"^[a-z_]+(\.[a-z_0-9]+){0,5}$")
OBJECT_ROOTS = ("ticket", "alert", "customer", "backup_job", "asset")
ROOTS = ("event", *OBJECT_ROOTS)
# Only what an event carries about itself; `data` is free-form (e.g. data.changes.status).
EVENT_PATHS = ("event.id", "event.type", "event.at", "event.customer_id", "event.source_id",
               "event.object.kind", "event.object.id")
OPERATORS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "gt", "gte", "lt", "lte",
             "exists", "matches")
MAX_CONDITIONS = 20
MAX_LIST = 50
MAX_TEXT = 1000               # a condition's string value; also how much text `matches` reads
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


# --- paths -------------------------------------------------------------------------------------

def path_problem(path: Any) -> str | None:
    """Why `path` cannot address the context, or None."""
    if not isinstance(path, str) or not PATH_RE.match(path):
        return (f"{_short(path)} is not a path: dotted lower-case names such as ticket.priority "
                "(letters, digits, _; at most 6 parts)")
    root = path.split(".", 1)[0]
    if root not in ROOTS:
        return f"{path!r} must start with one of: {', '.join(ROOTS)}"
    if root == "event":
        if path in EVENT_PATHS or path == "event.data" or path.startswith("event.data."):
            return None
        return f"{path!r}: an event offers {', '.join(EVENT_PATHS)} and event.data.<field>"
    if "." not in path:
        return f"{path!r} must name a field, e.g. {root}.id"
    return None


def resolve(context: Any, path: str) -> Any:
    """The value at `path`, or None when any part of it is missing."""
    current = context
    for part in path.split("."):
        if isinstance(current, dict):
            if part in current:
                current = current[part]
            elif part == "id" and "_id" in current:
                current = current["_id"]
            else:
                return None
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def as_text(value: Any) -> str:
    """How a value reads inside text (templates, `matches`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


# --- validation --------------------------------------------------------------------------------

def validate_conditions(raw: Any, where: str) -> tuple[list[dict], list[str]]:
    """Normalized conditions and every problem found (prefixed with `where`)."""
    if not isinstance(raw, list):
        return [], [f"{where}: must be a list of {{field, op, value}} objects"]
    problems: list[str] = []
    if len(raw) > MAX_CONDITIONS:
        problems.append(f"{where}: at most {MAX_CONDITIONS} conditions ({len(raw)} given)")
    out = []
    for i, condition in enumerate(raw[:MAX_CONDITIONS]):
        at = f"{where}[{i}]"
        if not isinstance(condition, dict):
            problems.append(f"{at}: must be an object {{field, op, value}}")
            continue
        problems += [f"{at}: unknown key {k!r} (a condition has field, op, value)"
                     for k in condition if k not in ("field", "op", "value")]
        problems += [f"{at}: missing {k!r}" for k in ("field", "op", "value") if k not in condition]
        if "field" in condition and (problem := path_problem(condition["field"])):
            problems.append(f"{at}.field: {problem}")
        op = condition.get("op")
        if "op" in condition and op not in OPERATORS:
            problems.append(f"{at}.op: {_short(op)} is not an operator; use one of: {', '.join(OPERATORS)}")
        elif "value" in condition and (problem := value_problem(op, condition["value"])):
            problems.append(f"{at}.value: {problem}")
        out.append({k: condition.get(k) for k in ("field", "op", "value")})
    return out, problems


def value_problem(op: str, value: Any) -> str | None:
    if op in ("eq", "ne"):
        return _scalar_problem(value)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            return f"{op} needs a list of 1 to {MAX_LIST} values"
        return next((f"item {i}: {p}" for i, v in enumerate(value) if (p := _scalar_problem(v))), None)
    if op in ("contains", "starts_with"):
        if op == "starts_with" and not isinstance(value, str):
            return "starts_with needs a string"
        return _scalar_problem(value) if value is not None else f"{op} needs a value, not null"
    if op in ("gt", "gte", "lt", "lte"):
        if _number(value) or (isinstance(value, str) and as_time(value) is not None):
            return None
        return f"{op} needs a number or an ISO date (2025-01-31 or 2025-01-31T08:00:00Z)"
    if op == "exists":
        return None if isinstance(value, bool) else "exists needs true or false"
    if op == "matches":
        return regex_problem(value)
    return None


def _scalar_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or _number(value):
        return None
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT else f"a string of at most {MAX_TEXT} characters"
    return "must be a string, a number, true/false or null"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- evaluation --------------------------------------------------------------------------------

def as_time(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO date / date-time string; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and DATE_RE.match(value):
        try:
            return as_time(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def evaluate(conditions: Any, context: Any) -> bool:
    """True when every condition holds (AND; no conditions: True). Never raises: a malformed
    condition or a value of another type than the operator needs is simply False."""
    if not isinstance(conditions, list):
        return False
    return all(_holds(condition, context) for condition in conditions)


def _holds(condition: Any, context: Any) -> bool:
    try:
        actual = resolve(context, condition["field"])
        return bool(_OPS[condition["op"]](actual, condition["value"]))
    except Exception:   # noqa: BLE001 — odd data must never break the engine
        return False


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, datetime) and isinstance(b, str):
        return as_time(a) == as_time(b)
    return a == b


def _order(actual: Any, expected: Any) -> int | None:
    if _number(expected):
        if not _number(actual):
            return None
        a, b = actual, expected
    else:
        a, b = as_time(actual), as_time(expected)
        if a is None or b is None:
            return None
    return (a > b) - (a < b)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected in actual
    if isinstance(actual, list | tuple):
        return any(_equal(item, expected) for item in actual)
    return False


def _matches(actual: Any, pattern: Any) -> bool:
    regex = compiled(pattern) if isinstance(pattern, str) else None
    if regex is None or actual is None:
        return False
    # RE2 reads UTF-8; a lone surrogate in odd data becomes "?" rather than an error.
    return regex.search(as_text(actual)[:MAX_TEXT].encode("utf-8", "replace")) is not None


def _compare(test):
    def op(actual: Any, expected: Any) -> bool:
        order = _order(actual, expected)
        return order is not None and test(order)
    return op


_OPS = {
    "eq": _equal,
    "ne": lambda a, b: not _equal(a, b),
    "in": lambda a, b: isinstance(b, list) and any(_equal(a, v) for v in b),
    "not_in": lambda a, b: isinstance(b, list) and not any(_equal(a, v) for v in b),
    "contains": _contains,
    "starts_with": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.startswith(b),
    "gt": _compare(lambda o: o > 0),
    "gte": _compare(lambda o: o >= 0),
    "lt": _compare(lambda o: o < 0),
    "lte": _compare(lambda o: o <= 0),
    "exists": lambda a, b: isinstance(b, bool) and (a is not None) == b,
    "matches": _matches,
}
