"""The guard on the regular expressions of `matches` conditions.

Rules run inside the server process, and Python's `re` backtracks without a time limit, so a
pattern is checked when the rule is saved, by its shape: what could make matching explode on
adversarial text (at most 1000 characters) is refused with a message saying what to write
instead. Measured on 1000 adversarial characters, the slowest shapes that pass (two lazy
open-ended repetitions, `\\w*?\\w*?=`) take up to about 1.5 s; what is refused ranges from
seconds (`\\w+\\w+\\w{1,3}=`: 3.5 s) to tens of seconds (`.*.*.*x`: 35 s) to forever (`(a+)+$`).

The shape is read from the pattern text, not from `re`'s parse tree: the parser rewrites
`(a|a)` into a character set and factors common prefixes, hiding the shapes that matter.
Counting open-ended repetitions is coarse (two that never overlap, as in `^\\S+@\\S+$`, would
be harmless by threes), but a precise overlap analysis would be a regex engine of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

MAX_REGEX = 200
MAX_OPEN = 2                 # open-ended repetitions (*, +, {n,}) in a row
# The product of alternatives and bounded repetition ranges in a row, by how many open-ended
# repetitions multiply with it (measured: \w+(a|a)(a|a)(a|a)(a|a)(a|a)= takes 0.3 s).
MAX_PATHS = (1000, 32, 2)
QUANTIFIER_RE = re.compile(r"\{(\d*)(,?)(\d*)\}")
FLAGS_RE = re.compile(r"\(\?([aiLmsux]*)(?:-([imsx]+))?(:|\))")
NAMED_GROUP_RE = re.compile(r"\(\?P<[A-Za-z_][A-Za-z_0-9]*>")
GROUP_OPENERS = ("(?:", "(?>", "(?=", "(?!", "(?<=", "(?<!")

NESTED = ("nested quantifiers such as (a+)+ or (.*)* are not allowed: they make matching "
          "exponential; write the repetition once")
REPEATED_ALTERNATIVES = ("a repeated group with alternatives such as (a|b)* is not allowed: "
                         "overlapping alternatives make matching exponential; use a class like [ab]*")
BACKREFERENCE = "backreferences (\\1, (?P=name), (?(1)…)) are not allowed: they make matching exponential"
VERBOSE = "the verbose flag (?x) is not supported"
TOO_MANY_OPEN = (f"too many open-ended repetitions (*, +, {{n,}}) in a row: at most {MAX_OPEN} are "
                 "allowed, more can take minutes on long text; leave out a leading or trailing .* (matches finds the "
                 "pattern anywhere in the text)")
TOO_MANY_PATHS = ("too many repetitions and alternatives combined: matching could take minutes on "
                  "long text; use fewer open-ended repetitions (*, +), alternatives (a|b) and "
                  "ranges ({1,3})")


def regex_problem(pattern: object) -> str | None:
    """Why `pattern` may not be used by `matches`, or None."""
    if not isinstance(pattern, str) or not pattern:
        return "matches needs a regular expression (a non-empty string)"
    if len(pattern) > MAX_REGEX:
        return f"the regular expression is longer than {MAX_REGEX} characters"
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"invalid regular expression: {exc}"
    tokens = _tokens(pattern)
    return tokens if isinstance(tokens, str) else _shape_problem(tokens)


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern | None:
    """The pattern compiled, or None if it would be refused at save time: a rule written to the
    database by other means gets no unsafe pattern either."""
    return None if regex_problem(pattern) else re.compile(pattern)


# Tokens: ("atom",), ("open",), ("close",), ("alt",), ("quant", low, high or None).
def _tokens(p: str) -> list[tuple] | str:
    out: list[tuple] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if re.match(r"[0-7]{3}", p[i + 1:i + 4]):       # an octal escape, not a group number
                out.append(("atom",))
                i += 4
                continue
            if p[i + 1] in "123456789":
                return BACKREFERENCE
            out.append(("atom",))
            i += 2
        elif c == "[":
            out.append(("atom",))
            i = _class_end(p, i)
        elif c == "(":
            if p.startswith("(?P=", i) or p.startswith("(?(", i):
                return BACKREFERENCE
            if p.startswith("(?#", i):
                i = p.index(")", i) + 1
                continue
            flags = FLAGS_RE.match(p, i)
            if flags and "x" in flags.group(1) + (flags.group(2) or ""):
                return VERBOSE
            if flags and flags.group(3) == ")":            # (?i): flags for the whole pattern
                i = flags.end()
                continue
            named = NAMED_GROUP_RE.match(p, i)
            opener = next((o for o in GROUP_OPENERS if p.startswith(o, i)), "(")
            out.append(("open",))
            i = flags.end() if flags else named.end() if named else i + len(opener)
        elif c == ")":
            out.append(("close",))
            i += 1
        elif c == "|":
            out.append(("alt",))
            i += 1
        else:
            bounds, end = _quantifier(p, i)
            if bounds is None:
                out.append(("atom",))
                i += 1
                continue
            if end < len(p) and p[end] in "?+":        # lazy or possessive: the same bounds
                end += 1
            out.append(("quant", *bounds))
            i = end
    return out


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
    if c in "*+?":
        return {"*": (0, None), "+": (1, None), "?": (0, 1)}[c], i + 1
    if c == "{" and (m := QUANTIFIER_RE.match(p, i)) and (m.group(1) or m.group(2)):
        low = int(m.group(1) or 0)
        high = int(m.group(3)) if m.group(3) else (None if m.group(2) else low)
        return (low, high), m.end()
    return None, i + 1


@dataclass
class _Frame:
    """A group (or the whole pattern) being read; costs are those of its current alternative."""
    quantified: bool = False       # holds a quantifier, at any depth
    alternation: bool = False      # holds a |, at any depth
    paths: float = 1.0             # alternatives x bounded repetition ranges
    opens: int = 0                 # open-ended repetitions
    ended: list[tuple[float, int]] = field(default_factory=list)   # finished alternatives

    def end_branch(self) -> None:
        self.ended.append((self.paths, self.opens))


def _shape_problem(tokens: list[tuple]) -> str | None:
    stack = [_Frame()]
    last: _Frame | None = None        # the group a quantifier right after it would repeat
    for token in tokens:
        top = stack[-1]
        if token[0] == "open":
            stack.append(_Frame())
        elif token[0] == "alt":
            top.alternation = True
            top.end_branch()
            top.paths, top.opens = 1.0, 0
        elif token[0] == "close":
            group = stack.pop()
            group.end_branch()
            top = stack[-1]
            top.quantified |= group.quantified
            top.alternation |= group.alternation
            top.paths *= sum(paths for paths, _ in group.ended)
            top.opens += max(opens for _, opens in group.ended)
        elif token[0] == "quant":
            low, high = token[1], token[2]
            if last is not None and (high is None or high > 1):
                if last.quantified:
                    return NESTED
                if last.alternation:
                    return REPEATED_ALTERNATIVES
            top.quantified = True
            if high is None:
                top.opens += 1
            else:
                top.paths *= high - low + 1
        last = group if token[0] == "close" else None
        if top.opens > MAX_OPEN:
            return TOO_MANY_OPEN
        if top.paths > MAX_PATHS[top.opens]:
            return TOO_MANY_PATHS
    return None
