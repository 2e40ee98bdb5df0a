"""Regressions found by tests/fuzz: inputs that once got a 500 or a reply that is not JSON-RPC."""
import pytest

from .support.rpc import LEGACY_HEADERS


def authorized(token):
    return {**LEGACY_HEADERS, "Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("bad_id", [False, 1.5, [1], {"a": 1}])
async def test_an_invalid_id_is_not_echoed(acme, http, bad_id):
    # A reply's id is a string, an integer or null; echoing the offending value made the
    # error reply itself invalid JSON-RPC.
    async with http.post(acme.url, json={"jsonrpc": "2.0", "id": bad_id, "method": "ping"},
                         headers=authorized(acme.token)) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert data["id"] is None and data["error"]["code"] == -32600


async def test_an_invalid_id_is_not_echoed_in_a_batch(acme, http):
    hdrs = {**authorized(acme.token), "MCP-Protocol-Version": "2025-03-26"}
    batch = [{"jsonrpc": "1.0", "id": [2]}, {"jsonrpc": "2.0", "id": 3, "method": "ping"}]
    async with http.post(acme.url, json=batch, headers=hdrs) as resp:
        replies = await resp.json()
    assert [r["id"] for r in replies] == [None, 3]


@pytest.mark.parametrize("raw", [
    b'{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}',        # was a 500: the reply could not be encoded
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_tickets",'
    b'"arguments":{"query":"printer \\udfff"}}}',                # would reach BSON unencodable
    b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":Infinity}}',
])
async def test_json_that_is_not_unicode_or_not_json_is_a_parse_error(acme, http, raw):
    async with http.post(acme.url, data=raw, headers=authorized(acme.token)) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert data["error"]["code"] == -32700 and data["id"] is None


async def test_paired_surrogate_escapes_are_ordinary_text(acme, http):
    raw = b'{"jsonrpc":"2.0","id":"\\ud83d\\ude00","method":"ping"}'
    async with http.post(acme.url, data=raw, headers=authorized(acme.token)) as resp:
        assert resp.status == 200
        data = await resp.json()
    assert data["id"] == "\U0001f600" and data["result"] == {}
