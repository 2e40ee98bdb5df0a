"""Hypothesis strategies for MCP and OAuth traffic: JSON of every shape, JSON-RPC-ish objects,
protocol headers of both eras, and tool arguments derived from (and mutated away from) the
real tools' input schemas."""
from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from vectis.mcp.protocol import (
    ALL_HANDSHAKE_HEADERS,
    META_CLIENT_CAPS,
    META_VERSION,
    MODERN_VERSION,
)
from vectis.tools.catalog import build_registry

REGISTRY = build_registry()
TOOLS = {spec.name: spec.input_schema for spec in REGISTRY}
METHODS = ("initialize", "ping", "tools/list", "tools/call", "server/discover", "notifications/initialized",
           "resources/read", "prompts/get", "resources/list", "logging/setLevel", "")
VERSIONS = (*ALL_HANDSHAKE_HEADERS, MODERN_VERSION, "2026-07-29", "2099-01-01", "", "latest")

# Header values http.client can send: no CR/LF/NUL, Latin-1 only (how HTTP/1.1 carries bytes).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=60)
small_text = st.text(max_size=40)
huge_ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([2**63, -(2**63) - 1, 10**30])
scalars = (st.none() | st.booleans() | huge_ints | st.integers(-5, 300)
           | st.floats(allow_nan=False, allow_infinity=False) | small_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(small_text, inner, max_size=5), max_leaves=25)
ids = st.integers(-(2**63), 2**63) | st.text(max_size=20) | st.none() | st.booleans() | st.floats(allow_nan=False) \
    | st.lists(st.integers(), max_size=2) | huge_ints


def _string(schema: dict) -> st.SearchStrategy[str]:
    if schema.get("format") == "email":
        return st.emails()
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6))
    return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 50), 50))


def from_schema(schema: dict) -> st.SearchStrategy[Any]:
    """Values valid under the subset of JSON Schema our tools use."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries({k: from_schema(v) for k, v in props.items() if k in required},
                                     optional={k: from_schema(v) for k, v in props.items() if k not in required})
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=schema.get("maxItems", 3))
    return json_values


def mutated(arguments: dict) -> st.SearchStrategy[Any]:
    """Arguments near-valid: one value replaced by anything, a key added or removed, or
    boundary values (huge integers, empty and very long strings)."""
    keys = sorted(arguments)
    options = [st.just(arguments), json_values,
               st.builds(lambda k, v: {**arguments, k: v}, small_text, json_values)]
    if keys:
        options += [
            st.builds(lambda k, v: {**arguments, k: v}, st.sampled_from(keys), json_values),
            st.builds(lambda k, v: {**arguments, k: v}, st.sampled_from(keys),
                      st.sampled_from(["", "x" * 5000, 2**64, -1, 0, 1.5, None, [], {}, True, "\x00", "\ud800"])),
            st.builds(lambda k: {x: y for x, y in arguments.items() if x != k}, st.sampled_from(keys)),
        ]
    return st.one_of(options)


@st.composite
def with_known_ids(draw, arguments: dict, properties: dict, known_ids: dict[str, list[str]]) -> dict:
    """The arguments with some id-like ones (customer_id, ticket_id, uuid, number...), given or
    not, set to ids that exist: random ids only ever reach a not-found."""
    candidates = sorted(k for k in properties if known_ids.get(k))
    if not candidates:
        return arguments
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, unique=True))
    return {**arguments, **{k: draw(st.sampled_from(known_ids[k])) for k in chosen}}


@st.composite
def tool_calls(draw, known_ids: dict[str, list[str]] | None = None) -> dict:
    """params of a tools/call: a real tool with valid or mutated arguments, or a random name.
    known_ids (argument name -> ids that exist) makes id arguments often name real records."""
    if draw(st.integers(0, 9)) == 0:
        return {"name": draw(small_text | json_values), "arguments": draw(json_values)}
    name = draw(st.sampled_from(sorted(TOOLS)))
    arguments = draw(from_schema(TOOLS[name]))
    if known_ids and draw(st.integers(0, 3)):
        arguments = draw(with_known_ids(arguments, TOOLS[name].get("properties", {}), known_ids))
    if draw(st.booleans()):
        arguments = draw(mutated(arguments))
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if draw(st.integers(0, 5)) == 0:
        params.pop("arguments")
    return params


@st.composite
def rpc_objects(draw) -> dict:
    """JSON-RPC-shaped objects: mostly right, each part sometimes wrong or missing."""
    message: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        message["jsonrpc"] = "2.0" if draw(st.integers(0, 5)) else draw(json_values)
    if draw(st.integers(0, 7)):
        message["id"] = draw(st.integers(0, 10**6) | ids)
    method = draw(st.sampled_from(METHODS) | small_text | json_values)
    if draw(st.integers(0, 9)):
        message["method"] = method
    if method == "tools/call" and draw(st.integers(0, 5)):
        message["params"] = draw(tool_calls())
    elif draw(st.booleans()):
        message["params"] = draw(st.dictionaries(small_text, json_values, max_size=4) | json_values)
    if draw(st.integers(0, 3)) == 0:  # some carry the modern envelope, some a broken one
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        meta = draw(st.just({META_VERSION: MODERN_VERSION, META_CLIENT_CAPS: {}})
                    | st.fixed_dictionaries({META_VERSION: json_values}, optional={META_CLIENT_CAPS: json_values})
                    | json_values)
        message["params"] = {**params, "_meta": meta}
    if draw(st.integers(0, 15)) == 0:
        message.update(draw(st.dictionaries(st.sampled_from(["result", "error", "extra"]), json_values)))
    return message


def mcp_name_header(value: Any) -> st.SearchStrategy[str]:
    """The Mcp-Name header for a name: plain, base64-sentinel, broken sentinel, or random."""
    text = value if isinstance(value, str) else json.dumps(value)
    encoded = "=?base64?" + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode() + "?="
    options = [st.just(encoded), header_text, st.just("=?base64?!!not base64!!?="),
               st.just("=?base64?" + base64.b64encode(b"\xff\xfe").decode() + "?="),
               st.just("=?base64?abc?="), st.just("=?base64??=")]
    if text.isascii() and text.isprintable():
        options.append(st.just(text))
    return st.one_of(options)


@st.composite
def mcp_headers(draw, message: Any) -> dict[str, str]:
    """Headers of either era, mostly consistent with the message, sometimes not."""
    method = message.get("method") if isinstance(message, dict) else None
    params = message.get("params") if isinstance(message, dict) else None
    headers = {"Content-Type": draw(st.sampled_from(["application/json"] * 6 + [
        "text/plain", "application/json; charset=latin-1", "", "multipart/form-data; boundary=x"])),
        "Accept": draw(st.sampled_from(["application/json, text/event-stream", "application/json",
                                        "text/event-stream", "*/*", "text/html"]))}
    era = draw(st.sampled_from(["none", "legacy", "modern", "random"]))
    if era == "legacy":
        headers["MCP-Protocol-Version"] = draw(st.sampled_from(ALL_HANDSHAKE_HEADERS))
    elif era == "modern":
        headers["MCP-Protocol-Version"] = MODERN_VERSION
        if isinstance(method, str) and method.isascii() and method.isprintable() and draw(st.integers(0, 4)):
            headers["Mcp-Method"] = method
        elif draw(st.booleans()):
            headers["Mcp-Method"] = draw(header_text)
        if isinstance(params, dict) and draw(st.integers(0, 4)):
            headers["Mcp-Name"] = draw(mcp_name_header(params.get("name", params.get("uri", ""))))
    elif era == "random":
        headers["MCP-Protocol-Version"] = draw(st.sampled_from(VERSIONS) | header_text)
    return {k: v for k, v in headers.items() if v or k != "Content-Type"}


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"[]", b"[[]]", b"null", b"1e999999", b"-0", b"\xff\xfe{}", b"{\"a\":\"\xc3\"}",
                     b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
                     b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_customers",'
                     b'"arguments":{"limit":Infinity}}}',
                     b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
                     b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"ping"}',
                     b'{"jsonrpc":"2.0","id":1' + b"0" * 5000 + b',"method":"ping"}',
                     b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}']),
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
