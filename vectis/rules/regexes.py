"""The regular expressions of `matches` conditions, run by RE2 (google-re2).

Rules run inside the server process. RE2 matches in time linear in the text, whatever the
pattern, so no pattern can hold the event loop: `(a+)+$` on 5000 characters is as quick as
`abc`. The price is a few constructs that need backtracking, which RE2 lacks; a rule using one is
refused when it is saved, with what to write instead. What stays bounded here: the pattern's
length (200 characters), the memory RE2 may use for one pattern (MAX_MEMORY: a pattern whose
compiled form is larger is refused), and the text searched (conditions.MAX_TEXT characters).

Never Python's `re` for a rule's pattern: `compiled` returns RE2 objects only, and a test holds
it to that (another package installed as `re2` that falls back to `re` would fail it).
"""
from __future__ import annotations

from functools import lru_cache

import re2

MAX_REGEX = 200
MAX_MEMORY = 1 << 20          # bytes per compiled pattern (RE2's default is 8 MiB)

# What RE2 says about a construct it lacks (the start of the construct, after the colon of its
# message), and what to tell the rule's author.
_BACKREFERENCE = ("backreferences (\\1, (?P=name), \\k<name>) are not supported: a linear-time "
                  "engine cannot match again what a group matched; write the repeated text out, "
                  "e.g. (abc)-abc instead of (abc)-\\1")
_LOOKAHEAD = ("lookahead (?=…) and (?!…) is not supported: write the text to match directly, "
              "and use a second condition with ne / not_in or a separate rule for what must not "
              "follow")
_LOOKBEHIND = ("lookbehind (?<=…) and (?<!…) is not supported: include the preceding text in "
               "the pattern, or use starts_with / a second condition")
_POSSESSIVE = ("possessive quantifiers (a++, a*+, a?+, {n,m}+) are not supported and not needed: "
               "RE2 never backtracks; write a+, a*, a? or {n,m}")
_ATOMIC = "atomic groups (?>…) are not supported and not needed: RE2 never backtracks; write (?:…)"
_CONDITIONAL = ("conditionals (?(1)yes|no) are not supported: write each case as an "
                "alternative, e.g. (?:<[^>]*>|[^<]*) instead of (<)?(?(1)[^>]*>|[^<]*)")
_VERBOSE = "the verbose flag (?x) is not supported: write the pattern without spaces or comments"
_COMMENT = "comments (?#…) are not supported: leave the comment out"
_FLAGS = "the flags (?a), (?u) and (?L) are not supported: RE2 supports (?i), (?m), (?s) and (?U)"
_END = "\\Z is not supported: write \\z for the end of the text"
_UNICODE_ESCAPE = "\\u, \\U and \\N{…} escapes are not supported: write \\x{00e9} (the code point in hex)"
_RECURSION = "recursion (?P>name) is not supported: write the group out again"
_TOO_LARGE = ("the regular expression is too large once compiled: use smaller repetition counts "
              "({n,m}) or fewer of them")

_MESSAGES = (   # what RE2 reports, starting with, and what to tell; the first that fits wins
    ("invalid perl operator: (?=", _LOOKAHEAD),
    ("invalid perl operator: (?!", _LOOKAHEAD),
    ("invalid perl operator: (?<=", _LOOKBEHIND),
    ("invalid perl operator: (?<!", _LOOKBEHIND),
    ("invalid perl operator: (?>", _ATOMIC),
    ("invalid perl operator: (?(", _CONDITIONAL),
    ("invalid perl operator: (?#", _COMMENT),
    ("invalid escape sequence: \\k", _BACKREFERENCE),
    ("invalid escape sequence: \\g", _BACKREFERENCE),
    ("invalid escape sequence: \\Z", _END),
    ("invalid escape sequence: \\u", _UNICODE_ESCAPE),
    ("invalid escape sequence: \\U", _UNICODE_ESCAPE),
    ("invalid escape sequence: \\N", _UNICODE_ESCAPE),
    ("pattern too large", _TOO_LARGE),
)
_FLAG_LETTERS = {"x": _VERBOSE, "a": _FLAGS, "u": _FLAGS, "L": _FLAGS}


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False        # a refused pattern is the author's business, not the log's
    return options


_OPTIONS = _options()
ENGINE = type(re2.compile("", _OPTIONS))      # what `compiled` returns: RE2's compiled pattern


def regex_problem(pattern: object) -> str | None:
    """Why `pattern` may not be used by `matches`, or None."""
    return _compile(pattern if isinstance(pattern, str) else "")[1]


def compiled(pattern: str):
    """The pattern compiled by RE2, or None if it would be refused at save time (a rule written
    to the database by other means never runs a refused pattern either)."""
    regex = _compile(pattern)[0] if isinstance(pattern, str) else None
    return regex if isinstance(regex, ENGINE) else None


@lru_cache(maxsize=256)
def _compile(pattern: str) -> tuple[object | None, str | None]:
    if not pattern:
        return None, "matches needs a regular expression (a non-empty string)"
    if len(pattern) > MAX_REGEX:
        return None, f"the regular expression is longer than {MAX_REGEX} characters"
    try:
        return re2.compile(pattern, _OPTIONS), None
    except re2.error as exc:
        return None, _explain(exc, pattern)
    except (ValueError, TypeError, OverflowError) as exc:      # e.g. a NUL or odd code points
        return None, f"invalid regular expression: {exc}"


def _explain(exc: Exception, pattern: str) -> str:
    raw = exc.args[0] if exc.args else ""
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for start, message in _MESSAGES:
        if reason.startswith(start):
            return message
    if reason.startswith("invalid escape sequence: \\") and reason[-1:].isdigit():
        return _BACKREFERENCE                  # \1 … \9
    if reason.startswith("bad repetition operator: ") and reason.endswith("+"):
        return _POSSESSIVE
    if reason.startswith("invalid perl operator: (?P"):    # RE2 names no more than (?P
        if "(?P=" in pattern:
            return _BACKREFERENCE
        if "(?P>" in pattern:
            return _RECURSION
    if reason.startswith("invalid perl operator: (?"):
        letter = next((c for c in reason.split("(?", 1)[1] if c in _FLAG_LETTERS), None)
        if letter:
            return _FLAG_LETTERS[letter]
    return f"invalid regular expression: {reason}"
