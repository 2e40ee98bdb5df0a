"""Regressions found by tests/fuzz: malformed requests to the token endpoints that got a 500 or
a non-RFC error body. Every answer here is RFC 6749 §5.2 JSON with Cache-Control: no-store."""
from __future__ import annotations

import pytest

from .flow import json_answer, register


@pytest.fixture
async def tenant(live_server):
    await live_server.storage.tenants.create("acme", "Acme IT")


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
async def test_non_ascii_basic_credentials_are_invalid_client(live_server, http, tenant, path):
    # base64 of a non-ASCII str raised ValueError, not binascii.Error: HTTP 500.
    async with http.post(live_server.url("acme", path), data={"grant_type": "authorization_code"},
                         headers={"Authorization": "Basic \u00e9t\u00e9"}) as resp:
        answer = await json_answer(resp)
    assert (answer.status, answer.body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
async def test_a_body_tornado_cannot_parse_is_invalid_request(live_server, http, tenant, path):
    # Tornado refuses multipart without a boundary before the handler runs; its error page was
    # {"error": "bad_request"}, which no OAuth client can interpret.
    async with http.post(live_server.url("acme", path), data=b"x",
                         headers={"Content-Type": "multipart/form-data"}) as resp:
        answer = await json_answer(resp)
    assert (answer.status, answer.body["error"]) == (400, "invalid_request")


async def test_wrong_method_is_an_rfc_error(live_server, http, tenant):
    await register(http, live_server)
    async with http.get(live_server.url("acme", "/oauth/token")) as resp:
        answer = await json_answer(resp)
    assert (answer.status, answer.body["error"]) == (405, "invalid_request")
