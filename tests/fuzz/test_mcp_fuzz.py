"""Fuzzing /api/mcp on a live server: whatever arrives, the answer is a well-formed HTTP and
JSON-RPC answer below 500, and the server keeps serving normal calls."""
from __future__ import annotations

import json

from hypothesis import event, given, settings
from hypothesis import strategies as st

from vectis.app import MAX_BODY_BYTES

from ..support.customer_leaks import foreign_records, mentioned_ids
from .checks import assert_still_serving, check_mcp_reply, check_rpc_message, json_body
from .server import SLUG
from .strategies import (
    META_CLIENT_CAPS,
    META_VERSION,
    MODERN_VERSION,
    encode,
    json_values,
    mcp_headers,
    mcp_name_header,
    raw_bodies,
    rpc_objects,
    tool_calls,
)

PATH = "/api/mcp"


def auth(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def post(client, server, body: bytes, headers: dict[str, str]):
    return client.request("POST", PATH, body, {**auth(server), **headers})


@settings(settings.get_profile("fuzz"), max_examples=250)
@given(data=st.data())
def test_jsonrpc_shaped_messages(fuzz_server, client, data):
    message = data.draw(rpc_objects())
    headers = data.draw(mcp_headers(message))
    check_mcp_reply(post(client, fuzz_server, encode(message), headers), message)


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(value=json_values, legacy=st.booleans())
def test_arbitrary_json(fuzz_server, client, value, legacy):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if not legacy:
        headers["MCP-Protocol-Version"] = MODERN_VERSION
    check_mcp_reply(post(client, fuzz_server, encode(value), headers), value)


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(body=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]),
       version=st.sampled_from([None, "2025-03-26", "2025-11-25", MODERN_VERSION]))
def test_raw_bodies(fuzz_server, client, body, content_type, version):
    headers = {"Content-Type": content_type, "Accept": "application/json, text/event-stream"}
    if version:
        headers["MCP-Protocol-Version"] = version
    check_mcp_reply(post(client, fuzz_server, body, headers))


@settings(settings.get_profile("fuzz"), max_examples=300)
@given(data=st.data())
def test_tool_calls_in_both_eras(fuzz_server, client, data):
    params = data.draw(tool_calls())
    rid = data.draw(st.integers(1, 10**9) | st.text(min_size=1, max_size=8))
    if data.draw(st.booleans()):
        message = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": data.draw(st.sampled_from(["2025-03-26", "2025-06-18", "2025-11-25"]))}
    else:
        meta = {META_VERSION: MODERN_VERSION, META_CLIENT_CAPS: {}}
        message = {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {**params, "_meta": meta}}
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "MCP-Protocol-Version": MODERN_VERSION, "Mcp-Method": "tools/call",
                   "Mcp-Name": data.draw(mcp_name_header(params.get("name")))}
    reply = post(client, fuzz_server, encode(message), headers)
    payload = check_mcp_reply(reply, message)
    outcome = (f"error {payload['error']['code']}" if isinstance(payload, dict) and "error" in payload
               and isinstance(payload["error"], dict) else f"HTTP {reply.status}")
    if reply.status == 200 and "result" in payload:
        result = payload["result"]
        outcome = "tool error" if result.get("isError") else "tool success"
        assert isinstance(result.get("content"), list) and isinstance(result.get("isError"), bool), result
    event(outcome)  # --hypothesis-show-statistics shows how deep the calls got


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(batch=st.lists(rpc_objects() | json_values, min_size=0, max_size=8),
       version=st.sampled_from([None, "2025-03-26", "2025-11-25", MODERN_VERSION]))
def test_batches(fuzz_server, client, batch, version):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if version:
        headers["MCP-Protocol-Version"] = version
    reply = post(client, fuzz_server, encode(batch), headers)
    payload = check_mcp_reply(reply)
    if isinstance(payload, list):
        sent_ids = [m.get("id") for m in batch if isinstance(m, dict)]
        for message in payload:
            assert message["id"] is None or message["id"] in sent_ids, (batch, message)


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "POST"]),
       headers=st.dictionaries(st.sampled_from(["Authorization", "Origin", "Content-Length", "Accept",
                                                "MCP-Protocol-Version", "Mcp-Session-Id", "Content-Type"]),
                               st.sampled_from(["Bearer nope", "Bearer ", "Basic eA==", "http://evil.example",
                                                "http://localhost:1", "-1", "99999999999", "abc", "",
                                                "text/event-stream", "2025-11-25"]) | st.just("x" * 3000),
                               max_size=4),
       with_token=st.booleans())
def test_http_level_variations(fuzz_server, client, method, headers, with_token):
    hdrs = {**(auth(fuzz_server) if with_token else {}), **headers}
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}' if method != "GET" else None
    # http.client fills Content-Length itself; a fuzzed one must replace it, not be added twice.
    declared = headers.get("Content-Length")
    # Unparseable, or beyond the server-wide body cap (Tornado refuses those at the HTTP layer).
    bad_framing = declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES)
    try:
        reply = fuzz_server.client().request(method, PATH, body, hdrs)
    except ConnectionResetError:
        # Tornado's HTTP/1.1 parser refuses unparseable framing before any handler runs: it
        # answers 400 and closes, and the unread body can turn that close into a reset that
        # overtakes the 400. Only then is a reset acceptable.
        if bad_framing:
            return
        raise
    if bad_framing and reply.status == 400 and not reply.body:
        return
    check_mcp_reply(reply)


LEGACY = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25"}
# What the server answers when a tool reached outside the customer-scoped view (a defect).
OUTSIDE_SCOPE = "is not available to a credential limited to some customers (request id"


def restricted_call(client, server, params) -> tuple[object, object]:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    reply = client.request("POST", PATH, encode(message),
                           {"Authorization": f"Bearer {server.restricted_token}", **LEGACY})
    return reply, check_mcp_reply(reply, message)


def stand_ins(value, ids: set[str]):
    """value with each of ids replaced by an id of the same kind that does not exist."""
    text = json.dumps(value)
    for record_id in ids:
        text = text.replace(record_id, record_id[:4] + "a" * 16)
    return json.loads(text)


@settings(settings.get_profile("fuzz"), max_examples=200)
@given(data=st.data())
def test_a_restricted_credential_never_receives_another_customers_record(fuzz_server, client, data):
    """Arbitrary tool calls, their id arguments often naming real records of every customer, from
    a credential limited to two customers: no answer, successful or not, holds a record of
    another customer, and an error about another customer's record is word for word the error
    about an id that does not exist."""
    params = data.draw(tool_calls(fuzz_server.known_ids))
    customers = fuzz_server.restricted_customers
    db = fuzz_server.live.storage.db.tenant(SLUG)
    reply, payload = restricted_call(client, fuzz_server, params)
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        event("protocol error")
        return
    text = " ".join(c.get("text", "") for c in result.get("content", []))
    assert OUTSIDE_SCOPE not in text, (params, text)
    # An id the caller sent may come back (a not-found names it); nothing else of another customer.
    leaked = fuzz_server.run(foreign_records(db, result, customers, sent=params))
    assert not leaked, (params, leaked, text[:500])
    sent_foreign = set(fuzz_server.run(foreign_records(db, params, customers)))
    if not result["isError"]:
        # A success may echo only a search query, never hand back a record it was asked for.
        echoed = set(fuzz_server.run(foreign_records(db, result, customers)))
        query = params.get("arguments", {}).get("query") if isinstance(params.get("arguments"), dict) else None
        assert echoed <= mentioned_ids(query), (params, echoed)
        event("restricted: success")
        return
    if not sent_foreign:
        event("restricted: error")
        return
    # Refused for naming another customer's record: exactly as if that record did not exist.
    _, unknown = restricted_call(client, fuzz_server, stand_ins(params, sent_foreign))
    unknown_text = " ".join(c.get("text", "") for c in unknown["result"]["content"])
    assert stand_ins(text, sent_foreign) == unknown_text, (params, text, unknown_text)
    event("restricted: another customer's id refused")


def test_still_serving_after_fuzzing(fuzz_server, client):
    assert_still_serving(fuzz_server, client)


def test_notifications_get_202_in_both_eras(fuzz_server, client):
    """A fixed point next to the fuzzing: the shapes above rely on 202 having no body."""
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    reply = post(client, fuzz_server, json.dumps(note).encode(), {"Content-Type": "application/json"})
    assert reply.status == 202 and reply.body == b""
    reply = post(client, fuzz_server, b'{"jsonrpc":"2.0","id":7,"method":"ping"}',
                 {"Content-Type": "application/json", "Accept": "text/event-stream"})
    check_rpc_message(json_body(reply), 7)
