"""/account/mcp: scope presets (decided on the server, so no script is needed), each scope's
sentence from the one table (also on the consent page), and per token its last use (time and
client) and its calls of the last 7 days, linked to its activity."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from vectis.audit import audit_row
from vectis.scopes import ALL_SCOPES, READ_SCOPES, SCOPE_DESCRIPTIONS

from .support.html import parse
from .support.pages import create_operator, sign_in
from .support.rpc import rpc

TECH, READER = "tech@acme.example", "reader@acme.example"


def test_every_scope_has_one_plain_sentence():
    assert list(SCOPE_DESCRIPTIONS) == list(ALL_SCOPES)
    for scope, text in SCOPE_DESCRIPTIONS.items():
        assert text.endswith(".") and text[0].isupper() and "\n" not in text and len(text) < 100, scope


@pytest.fixture
async def operators(live_server):
    storage = live_server.storage
    return {"tech": await create_operator(storage, "acme", TECH, "technician"),
            "reader": await create_operator(storage, "acme", READER, "readonly")}


async def page(http, server):
    async with http.get(server.url("acme", "/account/mcp")) as resp:
        assert resp.status == 200
        return await resp.text()


async def issue(http, server, pairs: list[tuple[str, str]]):
    form = parse(await page(http, server)).form("/account/mcp/tokens")
    data = [("_csrf", form.fields["_csrf"]), ("label", "x"), *pairs]
    async with http.post(server.url("acme", "/account/mcp/tokens"), data=data,
                         allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def stored_scopes(storage, email: str) -> list[list[str]]:
    user = await storage.users.by_email("acme", email)
    return [p["scopes"] for p in await storage.pats.for_user("acme", user["_id"])]


async def test_read_only_is_preselected_and_each_scope_says_what_it_allows(live_server, http, operators):
    await sign_in(http, live_server, "acme", TECH)
    body = await page(http, live_server)
    form = parse(body).form("/account/mcp/tokens")
    assert form.choices["preset"] == ["read", "write", "custom"]
    assert form.checked["preset"] == ["read"]
    assert form.checkboxes == list(ALL_SCOPES) and form.checked["scope"] == list(READ_SCOPES)
    for text in SCOPE_DESCRIPTIONS.values():
        assert text in unescape(body)
    assert '<script src="/static/scopes.js"></script>' in body
    async with http.get(live_server.url("acme", "/static/scopes.js")) as resp:
        assert resp.status == 200 and "preset" in await resp.text()

    # The first Generate, with nothing changed, makes a read-only token.
    status, body = await issue(http, live_server, [("preset", "read")] + [("scope", s) for s in READ_SCOPES])
    assert status == 200 and "vct_pat_" in body
    assert await stored_scopes(live_server.storage, TECH) == [list(READ_SCOPES)]


async def test_the_server_decides_by_the_preset_and_custom_uses_the_boxes(live_server, http, operators):
    storage = live_server.storage
    await sign_in(http, live_server, "acme", TECH)
    # Boxes left over from another choice (no script to untick them) do not count for a preset.
    assert (await issue(http, live_server, [("preset", "read"), ("scope", "write:tickets")]))[0] == 200
    assert (await issue(http, live_server, [("preset", "write"), ("scope", "read:billing")]))[0] == 200
    assert (await issue(http, live_server, [("preset", "custom"), ("scope", "read:billing"),
                                            ("scope", "write:notes")]))[0] == 200
    # A POST without a preset (a script, an older page) is custom.
    assert (await issue(http, live_server, [("scope", "read:alerts")]))[0] == 200
    assert await stored_scopes(storage, TECH) == [
        ["read:alerts"], ["read:billing", "write:notes"], list(ALL_SCOPES), list(READ_SCOPES)]
    status, body = await issue(http, live_server, [("preset", "custom")])
    assert status == 400 and "At least one scope is required" in body
    status, body = await issue(http, live_server, [("preset", "everything"), ("scope", "read:alerts")])
    assert status == 400 and "Choose read-only, read and write, or custom scopes." in body
    # The form comes back with the preset chosen.
    assert parse(body).form("/account/mcp/tokens").checked.get("preset") == ["custom"]
    assert len(await stored_scopes(storage, TECH)) == 4


async def test_a_read_only_role_gets_no_write_preset(live_server, http, operators):
    await sign_in(http, live_server, "acme", READER)
    form = parse(await page(http, live_server)).form("/account/mcp/tokens")
    assert form.choices["preset"] == ["read", "custom"] and form.checkboxes == list(READ_SCOPES)
    status, body = await issue(http, live_server, [("preset", "write")])
    assert status == 400 and "cannot hold" in body
    assert await stored_scopes(live_server.storage, READER) == []


async def test_each_token_shows_its_last_client_and_calls_of_seven_days(live_server, http, operators):
    storage = live_server.storage
    await sign_in(http, live_server, "acme", TECH)
    _, body = await issue(http, live_server, [("preset", "read")])
    token = parse(body).by_id["token-value"]
    [pat] = await storage.pats.for_user("acme", operators["tech"]["_id"])
    url = live_server.url("acme", "/api/mcp")
    headers = {"User-Agent": "Claude-Desktop/0.9 (test)"}
    for _ in range(3):
        status, _, _ = await rpc(http, url, token, "tools/call",
                                 {"name": "list_customers", "arguments": {}}, headers=headers)
        assert status == 200
    await live_server.services.authenticator.drain()
    await live_server.services.audit.flush()
    # Rows older than seven days, and another credential's, are not counted.
    old = audit_row(actor={"kind": "pat", "credential_id": pat["_id"]}, action="list_customers",
                    status="success", kind="read")
    old["at"] = datetime.now(UTC) - timedelta(days=8)
    other = audit_row(actor={"kind": "pat", "credential_id": "pat_other"}, action="list_customers",
                      status="success", kind="read")
    await storage.audit.insert("acme", [old, other])

    html = parse(await page(http, live_server))
    row = html.by_id[f"token-{pat['_id']}"]
    assert "Claude-Desktop/0.9 (test)" in row and "UTC" in row
    stored = await storage.db.tenant("acme")["pats"].find_one({"_id": pat["_id"]})
    assert stored["last_used_client"] == "Claude-Desktop/0.9 (test)"
    body = await page(http, live_server)
    link = parse(body).by_id[f"token-{pat['_id']}"]
    assert "3 calls in 7 days" in link
    assert f'<a class="calls" href="/account/activity?credential={pat["_id"]}"' in body


async def test_the_consent_page_shows_the_same_sentences(live_server, http, operators):
    from urllib.parse import urlencode

    from .oauth.flow import authorize_params, pkce, register

    await sign_in(http, live_server, "acme", TECH)
    client = await register(http, live_server, "acme")
    _, challenge = pkce()
    params = authorize_params(live_server, client, challenge, scope="read:tickets write:notes")
    async with http.get(live_server.url("acme", "/oauth/authorize?" + urlencode(params))) as resp:
        assert resp.status == 200
        body = await resp.text()
    body = unescape(body)
    assert SCOPE_DESCRIPTIONS["read:tickets"] in body and SCOPE_DESCRIPTIONS["write:notes"] in body
    assert SCOPE_DESCRIPTIONS["read:billing"] not in body


async def set_tenant_policy(server, policy: str) -> None:
    await server.storage.tenants.set_approval_policy("acme", policy)
    server.services.tenants.forget("acme")


async def stored_approval(storage, email: str) -> list:
    user = await storage.users.by_email("acme", email)
    return [p["approval_policy"] for p in await storage.pats.for_user("acme", user["_id"])]


def issued_approval(body: str) -> str:
    text = " ".join(unescape(parse(body).by_id["token-approval"]).split())
    return text.removeprefix("Human approval of its writes: ")


async def test_a_token_may_ask_for_stricter_approval_than_the_tenant_never_less(live_server, http, operators):
    storage = live_server.storage
    await sign_in(http, live_server, "acme", TECH)
    form = parse(await page(http, live_server)).form("/account/mcp/tokens")
    # Tenant policy none: the tenant's (default) and both stricter ones.
    assert form.choices["approval"] == ["", "customer_visible", "all"] and form.checked["approval"] == [""]
    status, body = await issue(http, live_server, [("preset", "read")])
    assert status == 200 and issued_approval(body) == "no write waits for a person (the tenant's policy)."
    assert await stored_approval(storage, TECH) == [None]
    status, body = await issue(http, live_server, [("preset", "write"), ("approval", "all")])
    assert status == 200 and issued_approval(body) == "every write waits for a person (this token)."
    assert await stored_approval(storage, TECH) == ["all", None]

    # The list says each token's effective approval, and whose it is.
    listing = parse(await page(http, live_server))
    pats = await storage.pats.for_user("acme", operators["tech"]["_id"])
    cells = {p["approval_policy"]: listing.by_id[f"token-{p['_id']}"] for p in pats}
    assert "Every write waits for a person" in cells["all"] and "this token" in cells["all"]
    assert "No write waits for a person" in cells[None] and "the tenant's policy" in cells[None]

    # Stricter tenant: only "all" is offered beyond it; a looser or unknown value creates nothing.
    await set_tenant_policy(live_server, "customer_visible")
    form = parse(await page(http, live_server)).form("/account/mcp/tokens")
    assert form.choices["approval"] == ["", "all"]
    for value in ("none", "everything"):
        status, body = await issue(http, live_server, [("preset", "read"), ("approval", value)])
        assert status == 400, value
        error = parse(body).by_id["approval-error"]
        assert "never less" in error and "writes the customer sees wait for a person" in error
    assert len(await stored_approval(storage, TECH)) == 2
    # The tenant's own policy, posted as such (a form older than the admin's change), is accepted.
    assert (await issue(http, live_server, [("preset", "read"), ("approval", "customer_visible")]))[0] == 200
    listing = parse(await page(http, live_server))
    for pat in await storage.pats.for_user("acme", operators["tech"]["_id"]):
        if pat["approval_policy"] is None:   # follows the tenant
            assert "Writes the customer sees wait" in listing.by_id[f"token-{pat['_id']}"]

    # Tenant "all": nothing stricter to choose; the page says so.
    await set_tenant_policy(live_server, "all")
    html = parse(await page(http, live_server))
    assert "approval" not in html.form("/account/mcp/tokens").choices
    assert "no token can ask for more" in html.by_id["approval-fixed"]
