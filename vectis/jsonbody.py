"""Request bodies as JSON that can be stored and answered.

`json.loads` accepts `"\\ud800"`, a lone surrogate: a Python str that no UTF-8 encoder (our
responses, BSON) will take, so it would surface later as a 500. Such a body is refused here as
not valid JSON text (RFC 8259 §8.2: strings are Unicode), before anything uses it. So is NaN or Infinity, which JSON does not have.
"""
from __future__ import annotations

import json
import re
from typing import Any

_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJson(ValueError):
    pass


def loads(raw: bytes) -> Any:
    """Parse a UTF-8 JSON body; raises InvalidJson (also for bad UTF-8) or RecursionError."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidJson("the body is not valid JSON") from None
    # Surrogates can only come from \u escapes (decoding UTF-8 never yields them); paired
    # ones have been combined by the parser, so any left are unpaired.
    if _ESCAPED_SURROGATE.search(raw) and _has_surrogate(value):
        raise InvalidJson("the body contains an unpaired UTF-16 surrogate escape")
    return value


def _refuse_constant(token: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON; echoed back they would make our own
    # answers unparseable for strict clients.
    raise InvalidJson(f"the body is not valid JSON ({token} is not a JSON value)")


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
