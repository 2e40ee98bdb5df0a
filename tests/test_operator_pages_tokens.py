"""/account/mcp: issuing a token (shown once), using it on /api/mcp, scope limits, revoking."""
from __future__ import annotations

import json
import logging

import pytest

from vectis.scopes import READ_SCOPES

from .support.html import parse
from .support.pages import create_operator, form_fields, sign_in
from .support.rpc import rpc

EMAIL = "tech@acme.example"


@pytest.fixture
async def signed_in(live_server, http):
    user = await create_operator(live_server.storage, "acme", EMAIL, role="readonly")
    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    return user


async def issue(http, server, **fields):
    form = await form_fields(http, server.url("acme", "/account/mcp"), "/account/mcp/tokens")
    data = [(k, v) for k, v in form.items()]
    for key, value in fields.items():
        data.extend((key, v) for v in (value if isinstance(value, list) else [value]))
    async with http.post(server.url("acme", "/account/mcp/tokens"), data=data, allow_redirects=False) as resp:
        return resp.status, resp.headers, await resp.text()


async def test_form_offers_only_the_role_scopes(live_server, http, signed_in):
    async with http.get(live_server.url("acme", "/account/mcp")) as resp:
        page = parse(await resp.text())
    assert page.form("/account/mcp/tokens").checkboxes == list(READ_SCOPES)


async def test_issued_token_is_shown_once_and_works(live_server, http, signed_in, caplog):
    caplog.set_level(logging.DEBUG)
    status, headers, body = await issue(http, live_server, label="laptop", scope=["read:tickets", "read:customers"],
                                        expires_days="30")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    page = parse(body)
    token = page.by_id["token-value"]
    assert token.startswith("vct_pat_")
    mcp_url = live_server.url("acme", "/api/mcp")
    claude = json.loads(page.by_id["snippet-claude"])["mcpServers"]["vectis"]
    assert claude["command"] == "npx"
    assert claude["args"][:5] == ["-y", "mcp-remote", mcp_url, "--header", "Authorization:${VECTIS_TOKEN}"]
    assert claude["env"] == {"VECTIS_TOKEN": f"Bearer {token}"}
    cursor = json.loads(page.by_id["snippet-cursor"])["mcpServers"]["vectis"]
    assert cursor == {"url": mcp_url, "headers": {"Authorization": f"Bearer {token}"}}
    assert f"curl -s {mcp_url}" in page.by_id["snippet-curl"] and token in page.by_id["snippet-curl"]
    assert '<script src="/static/copy.js"></script>' in body

    status, data, _ = await rpc(http, mcp_url, token, "tools/list")
    assert status == 200 and "result" in data

    async with http.get(live_server.url("acme", "/account/mcp")) as resp:
        listing = await resp.text()
    assert token not in listing and "laptop" in listing and token[:12] in listing
    assert "read:customers read:tickets" in listing
    assert token not in caplog.text
    rows = await live_server.storage.audit.recent("acme")
    assert token not in repr(rows)
    issued = next(r for r in rows if r["action"] == "token.issued")
    assert issued["actor"] == {"kind": "operator", "user_id": signed_in["_id"], "email": EMAIL}


@pytest.mark.parametrize("fields, message", [
    ({"label": "x", "scope": ["read:tickets", "write:tickets"]}, "cannot hold: write:tickets"),
    ({"label": "x", "scope": ["read:everything"]}, "unknown scope"),
    ({"label": "x"}, "at least one scope"),
    ({"label": " ", "scope": ["read:tickets"]}, "label must be 1-100"),
    ({"label": "x" * 101, "scope": ["read:tickets"]}, "label must be 1-100"),
    ({"label": "x", "scope": ["read:tickets"], "expires_days": "366"}, "between 1 and 365 days"),
    ({"label": "x", "scope": ["read:tickets"], "expires_days": "0"}, "between 1 and 365 days"),
    ({"label": "x", "scope": ["read:tickets"], "expires_days": "soon"}, "whole number"),
])
async def test_invalid_requests_are_refused(live_server, http, signed_in, fields, message):
    status, _, body = await issue(http, live_server, **fields)
    assert status == 400
    assert message.lower() in body.lower()
    assert "vct_pat_" not in body
    assert await live_server.storage.pats.for_user("acme", signed_in["_id"]) == []


async def revoke(http, server, token_id):
    form = await form_fields(http, server.url("acme", "/account/mcp"), "/account/mcp/tokens")
    async with http.post(server.url("acme", "/account/mcp/revoke"), allow_redirects=False,
                         data={"_csrf": form["_csrf"], "token_id": token_id}) as resp:
        return resp.status, resp.headers.get("Location")


async def test_revoke_takes_effect_at_once(live_server, http, signed_in):
    _, _, body = await issue(http, live_server, label="script", scope=["read:tickets"])
    token = parse(body).by_id["token-value"]
    mcp_url = live_server.url("acme", "/api/mcp")
    assert (await rpc(http, mcp_url, token, "tools/list"))[0] == 200   # now cached as valid
    pat = (await live_server.storage.pats.for_user("acme", signed_in["_id"]))[0]
    assert await revoke(http, live_server, pat["_id"]) == (303, "/account/mcp?done=revoked")
    assert (await rpc(http, mcp_url, token, "tools/list"))[0] == 401
    async with http.get(live_server.url("acme", "/account/mcp?done=revoked")) as resp:
        listing = await resp.text()
    assert "Access revoked." in listing and ">revoked</td>" in listing
    actions = [r["action"] for r in await live_server.storage.audit.recent("acme")]
    assert actions.count("token.revoked") == 1


async def test_cannot_revoke_someone_elses_token(live_server, http, signed_in):
    from .conftest import issue_token
    other = await create_operator(live_server.storage, "acme", "boss@acme.example")
    token = await issue_token(live_server.storage, live_server.config, "acme", other["email"], ["read:tickets"])
    pat = (await live_server.storage.pats.for_user("acme", other["_id"]))[0]
    assert (await revoke(http, live_server, pat["_id"]))[0] == 404
    assert (await rpc(http, live_server.url("acme", "/api/mcp"), token, "tools/list"))[0] == 200
