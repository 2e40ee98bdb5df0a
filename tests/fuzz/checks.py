"""The properties every fuzzed response must have, whatever was sent."""
from __future__ import annotations

import json
from typing import Any

from .server import Client, FuzzServer, Reply

# RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 7591 §3.2.2, RFC 8707 §2.
OAUTH_ERRORS = frozenset({
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
    "invalid_scope", "server_error", "temporarily_unavailable", "invalid_client", "invalid_grant",
    "unsupported_grant_type", "invalid_token", "insufficient_scope", "unsupported_token_type",
    "invalid_redirect_uri", "invalid_client_metadata", "invalid_software_statement",
    "unapproved_software_statement", "invalid_target"})


def strict_json(text: str) -> Any:
    """RFC 8259 JSON only: Python's parser would also take NaN and Infinity."""
    def refuse(token: str):
        raise AssertionError(f"non-JSON constant {token} in a response")
    return json.loads(text, parse_constant=refuse)


def no_server_error(reply: Reply) -> None:
    assert reply.status < 500, (reply.status, reply.body[:500])


def json_body(reply: Reply) -> Any:
    ctype = (reply.header("Content-Type") or "").split(";")[0].strip()
    if ctype == "text/event-stream":
        lines = [ln for ln in reply.body.decode("utf-8").splitlines() if ln.startswith("data: ")]
        assert len(lines) == 1, reply.body[:500]
        return strict_json(lines[0][6:])
    assert ctype == "application/json", (reply.status, ctype, reply.body[:200])
    return strict_json(reply.body.decode("utf-8"))


def check_rpc_message(message: Any, expected_id: Any = ...) -> None:
    """One JSON-RPC 2.0 response object: exactly one of result/error, an integer code."""
    assert isinstance(message, dict), message
    assert message.get("jsonrpc") == "2.0", message
    assert "id" in message, message
    if expected_id is not ...:
        assert message["id"] == expected_id and type(message["id"]) is type(expected_id), (expected_id, message)
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        error = message["error"]
        assert isinstance(error, dict) and isinstance(error.get("message"), str), message
        assert isinstance(error.get("code"), int) and not isinstance(error["code"], bool), message
    else:
        assert isinstance(message["result"], dict), message


def request_id_of(body: Any) -> Any:
    """The id a reply must echo: the request's when it is a valid id, else null."""
    if isinstance(body, dict) and "id" in body:
        rid = body["id"]
        if isinstance(rid, (str, int)) and not isinstance(rid, bool):
            return rid
    return None


def check_mcp_reply(reply: Reply, sent: Any = ...) -> Any:
    """Whatever /api/mcp answers is a well-formed HTTP answer; returns the parsed body."""
    no_server_error(reply)
    if reply.status in (202, 204):  # accepted notifications; CORS preflight
        assert reply.body == b"", reply.body[:200]
        return None
    payload = json_body(reply)
    if isinstance(payload, list):
        assert payload, "an empty batch reply"
        for message in payload:
            check_rpc_message(message)
        return payload
    assert isinstance(payload, dict), payload
    if "jsonrpc" in payload:
        check_rpc_message(payload)
        rid = payload["id"]
        assert rid is None or (isinstance(rid, (str, int)) and not isinstance(rid, bool)), payload
        if isinstance(sent, dict):
            # The request's id, or null where the id could not be trusted (JSON-RPC 2.0 §5).
            allowed = {request_id_of(sent)} if "result" in payload else {request_id_of(sent), None}
            assert rid in allowed and type(rid) in {type(a) for a in allowed}, (sent, payload)
    else:  # an HTTP-level refusal (401, 403, 405, 413, 400 unsupported version)
        assert reply.status >= 400, (reply.status, payload)
        assert isinstance(payload.get("error"), str), payload
    return payload


def check_oauth_error(reply: Reply) -> dict:
    no_server_error(reply)
    payload = json_body(reply)
    assert isinstance(payload, dict), payload
    assert payload.get("error") in OAUTH_ERRORS, payload
    assert isinstance(payload.get("error_description", ""), str), payload
    return payload


def assert_still_serving(server: FuzzServer, client: Client) -> None:
    """A normal tools/call still succeeds after whatever came before."""
    body = json.dumps({"jsonrpc": "2.0", "id": "after", "method": "tools/call",
                       "params": {"name": "list_customers", "arguments": {"limit": 2}}}).encode()
    reply = client.request("POST", "/api/mcp", body, {
        "Authorization": f"Bearer {server.token}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
    assert reply.status == 200, (reply.status, reply.body[:300])
    payload = json.loads(reply.body)
    assert payload["id"] == "after" and payload["result"]["isError"] is False, payload
