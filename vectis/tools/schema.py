"""Small builders for the JSON Schemas every tool declares (JSON Schema 2020-12).

Inputs are closed (`additionalProperties: false`) and bounded (string lengths, integer ranges),
so an argument can never smuggle a query operator or an unbounded value into a handler.
"""
from __future__ import annotations

from typing import Any

ID_PATTERN = r"^[a-z]{3}_[a-z2-7]{16}$"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), *, closed: bool = True) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def string(description: str = "", *, max_length: int = 200, min_length: int = 0,
           enum: tuple[str, ...] | None = None, pattern: str | None = None, fmt: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = list(enum)
    else:
        schema["maxLength"] = max_length
        if min_length:
            schema["minLength"] = min_length
    if pattern:
        schema["pattern"] = pattern
    if fmt:
        schema["format"] = fmt
    if description:
        schema["description"] = description
    return schema


def integer(description: str = "", *, minimum: int, maximum: int, default: int | None = None) -> dict:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if default is not None:
        schema["default"] = default
    if description:
        schema["description"] = description
    return schema


def object_id(kind: str) -> dict:
    return string(f"Vectis {kind} id, e.g. as returned by the list tools.", max_length=20,
                  pattern=ID_PATTERN)


def limit() -> dict:
    return integer(f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).", minimum=1,
                   maximum=MAX_LIMIT, default=DEFAULT_LIMIT)


def cursor() -> dict:
    return string("Opaque cursor from a previous page's next_cursor.", max_length=1000)


def since() -> dict:
    return string("ISO 8601 date or date-time (UTC if no offset).", max_length=40)


# Output schemas: open objects, so adding a field later is not a breaking change.
def out_obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
    return obj(properties, required, closed=False)


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
NUM = {"type": "number"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}


def page_of(item: dict, extra: dict[str, Any] | None = None) -> dict:
    props = {"items": {"type": "array", "items": item}, "next_cursor": nullable(STR),
             "count": INT, **(extra or {})}
    return out_obj(props, ("items", "next_cursor", "count"))
