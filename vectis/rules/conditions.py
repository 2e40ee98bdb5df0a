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
from functools import lru_cache
from typing import Any

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
MAX_REGEX = 200
# Backtracking budget: the product of the repetitions' ranges along any one branch. Two
# unbounded repetitions (`.*foo.*`) stay well under a second on 1000 characters; three can take
# tens of seconds, and a rule runs in the server process.
UNBOUNDED = 1000
REGEX_BUDGET = (UNBOUNDED + 1) ** 2
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
QUANTIFIER_RE = re.compile(r"\{(\d*)(,?)(\d*)\}")
GROUP_OPENERS = ("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>")
FLAGS_RE = re.compile(r"\(\?([aiLmsux]*)(?:-([imsx]+))?(:|\))")
NAMED_GROUP_RE = re.compile(r"\(\?P<[A-Za-z_][A-Za-z_0-9]*>")


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


# --- regular expressions -----------------------------------------------------------------------

def regex_problem(pattern: Any) -> str | None:
    """Why `pattern` may not be used by `matches`, or None. Refuses, besides invalid patterns,
    every shape that lets backtracking explode on adversarial text."""
    if not isinstance(pattern, str) or not pattern:
        return "matches needs a regular expression (a non-empty string)"
    if len(pattern) > MAX_REGEX:
        return f"the regular expression is longer than {MAX_REGEX} characters"
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"invalid regular expression: {exc}"
    return _shape_problem(pattern)


class _Frame:
    def __init__(self):
        self.quantified = False        # holds a quantifier, at any depth
        self.alternation = False       # holds a |, at any depth
        self.branches: list[float] = []
        self.cost = 1.0                # backtracking cost of the current branch


def _shape_problem(p: str) -> str | None:
    stack, i, last = [_Frame()], 0, None       # last: None, "atom" or the _Frame of a closed group
    while i < len(p):
        top, c = stack[-1], p[i]
        if c == "\\":
            if re.match(r"[0-7]{3}", p[i + 1:i + 4]):       # an octal escape, not a group number
                i, last = i + 4, "atom"
                continue
            if p[i + 1] in "123456789":
                return "backreferences (\\1) are not allowed: they make matching exponential"
            i, last = i + 2, "atom"
            continue
        if c == "[":
            i, last = _class_end(p, i), "atom"
            continue
        if c == "(":
            if p.startswith("(?P=", i) or p.startswith("(?(", i):
                return "backreferences ((?P=name), (?(1)…)) are not allowed: they make matching exponential"
            if p.startswith("(?#", i):
                i = p.index(")", i) + 1
                continue
            flags = FLAGS_RE.match(p, i)
            if flags and "x" in (flags.group(1) + (flags.group(2) or "")):
                return "the verbose flag (?x) is not supported"
            if flags and flags.group(3) == ")":
                i = flags.end()
                continue
            named = NAMED_GROUP_RE.match(p, i)
            opener = next((o for o in GROUP_OPENERS if p.startswith(o, i)), None)
            i = flags.end() if flags else named.end() if named else i + len(opener or "(")
            stack.append(_Frame())
            last = None
            continue
        if c == ")":
            group = stack.pop()
            group.branches.append(group.cost)
            parent = stack[-1]
            parent.quantified |= group.quantified
            parent.alternation |= group.alternation
            parent.cost *= sum(group.branches)
            i, last = i + 1, group
            continue
        if c == "|":
            top.alternation = True
            top.branches.append(top.cost)
            top.cost = 1.0
            i, last = i + 1, None
            continue
        bounds, end = _quantifier(p, i)
        if bounds is None:
            i, last = i + 1, "atom"
            continue
        low, high = bounds
        if end < len(p) and p[end] in "?+":        # lazy or possessive: the same backtracking bound
            end += 1
        if high is None or high > 1:
            if isinstance(last, _Frame) and last.quantified:
                return ("nested quantifiers such as (a+)+ or (.*)* are not allowed: they make "
                        "matching exponential; write the repetition once")
            if isinstance(last, _Frame) and last.alternation:
                return ("a repeated group with alternatives such as (a|b)* is not allowed: "
                        "overlapping alternatives make matching exponential; use a class like [ab]*")
        top.quantified = True
        spread = min(UNBOUNDED if high is None else high, UNBOUNDED) - min(low, UNBOUNDED) + 1
        top.cost *= max(spread, 1)
        if top.cost > REGEX_BUDGET:
            return ("too many open-ended repetitions in a row (at most two such as .* or \\d+, "
                    "and small bounds like {1,3} for the rest): matching could take minutes")
        i, last = end, None
    return None


def _class_end(p: str, i: int) -> int:
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while j < len(p) and p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j + 1


def _quantifier(p: str, i: int) -> tuple[tuple[int, int | None] | None, int]:
    c = p[i]
    if c == "*":
        return (0, None), i + 1
    if c == "+":
        return (1, None), i + 1
    if c == "?":
        return (0, 1), i + 1
    if c == "{" and (m := QUANTIFIER_RE.match(p, i)) and (m.group(1) or m.group(2)):
        low = int(m.group(1) or 0)
        high = int(m.group(3)) if m.group(3) else (None if m.group(2) else low)
        return (low, high), m.end()
    return None, i + 1


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern | None:
    """The pattern compiled, or None if it would be refused at save time (a rule written to the
    database by other means gets no unsafe regex either)."""
    return None if regex_problem(pattern) else re.compile(pattern)


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
    return regex.search(as_text(actual)[:MAX_TEXT]) is not None


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
