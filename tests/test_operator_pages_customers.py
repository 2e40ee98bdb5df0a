"""Customer limits on the operator pages, over HTTP against the live server: a restricted operator
sees their limit in words and can only narrow it on a new token; an unrestricted one can limit a
token to chosen customers; every refusal creates nothing; the consent page states what an app will
see; the limit set by an administrator reaches a session that is already open. Each token is then
used on /api/mcp, where list_customers must return exactly the customers the page promised."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vectis.demo.generator import demo_operators
from vectis.demo.seed import seed_tenant

from .oauth.flow import Browser, authorize_params, pkce, register
from .support.html import parse
from .support.pages import PASSWORD, form_fields, sign_in
from .support.rpc import structured

SLUG = "acme"
ADMIN, TECH = (next(o.email for o in demo_operators(SLUG) if o.role == role)
               for role in ("admin", "technician"))


@pytest.fixture
async def tenant(live_server):
    """acme at a small scale: 12 named customers; both demo operators sign in with PASSWORD."""
    await seed_tenant(live_server.storage, SLUG, "Acme IT", passwords={ADMIN: PASSWORD, TECH: PASSWORD},
                      customers=12, tickets_per_customer=1, now=datetime.now(UTC))
    docs = await live_server.storage.db.tenant(SLUG)["customers"].find({}, {"name": 1}).sort("name", 1).to_list()
    return live_server, {d["_id"]: d["name"] for d in docs}


async def restrict(server, email: str, customers) -> dict:
    user = await server.storage.users.by_email(SLUG, email)
    await server.storage.users.set_customers(SLUG, user["_id"], frozenset(customers))
    return await server.storage.users.by_id(SLUG, user["_id"])


async def signed_in(http, server, email: str) -> dict:
    assert (await sign_in(http, server, SLUG, email))[0] == 303
    return await server.storage.users.by_email(SLUG, email)


async def get(http, server, path: str) -> tuple[int, str]:
    async with http.get(server.url(SLUG, path), allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def issue(http, server, *, mode: str, customers=(), label: str = "co-managed",
                scopes=("read:customers",)) -> tuple[int, str]:
    form = await form_fields(http, server.url(SLUG, "/account/mcp"), "/account/mcp/tokens")
    data = [("_csrf", form["_csrf"]), ("label", label), ("customer_mode", mode)]
    data += [("scope", s) for s in scopes] + [("customer", c) for c in customers]
    async with http.post(server.url(SLUG, "/account/mcp/tokens"), data=data, allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def seen_by(http, server, token: str) -> set[str]:
    """The customer ids list_customers returns to the token, every page."""
    seen, cursor = set(), None
    while True:
        page = await structured(http, server.url(SLUG, "/api/mcp"), token, "list_customers",
                                {"limit": 100, **({"cursor": cursor} if cursor else {})})
        seen |= {c["id"] for c in page["items"]}
        cursor = page.get("next_cursor")
        if not cursor:
            return seen


async def pats_of(server, user: dict) -> list[dict]:
    return await server.storage.pats.for_user(SLUG, user["_id"])


async def test_restricted_operator_sees_the_limit_and_only_their_customers(tenant, http):
    server, names = tenant
    mine, others = sorted(names)[:2], sorted(names)[2:]
    await restrict(server, TECH, mine)
    await signed_in(http, server, TECH)
    status, body = await get(http, server, "/account/mcp")
    assert status == 200
    page = parse(body)
    notice = page.by_id["account-customers"]
    assert "limited to some customers" in notice and "only these 2 customers" in notice.lower()
    assert all(names[c] in notice and c in notice for c in mine)
    form = page.form("/account/mcp/tokens")
    assert sorted(form.choices["customer"]) == mine               # the picker offers no one else
    assert form.checked["customer_mode"] == ["all"]
    assert not any(names[c] in body or c in body for c in others)
    assert 'href="/rules"' not in body                            # rules are tenant-wide


async def test_restricted_operator_narrows_a_token_and_it_keeps_the_narrowing(tenant, http):
    server, names = tenant
    mine = sorted(names)[:3]
    await restrict(server, TECH, mine)
    user = await signed_in(http, server, TECH)
    status, body = await issue(http, server, mode="only", customers=[mine[1]])
    assert status == 200
    page = parse(body)
    assert f"only the customer {names[mine[1]]} ({mine[1]})" in page.by_id["token-customers"]
    token = page.by_id["token-value"]
    assert await seen_by(http, server, token) == {mine[1]}
    [pat] = await pats_of(server, user)
    assert pat["customers"] == [mine[1]]
    issued = next(r for r in await server.storage.audit.recent(SLUG) if r["action"] == "token.issued")
    assert issued["detail"]["customers"] == [mine[1]]
    listing = parse((await get(http, server, "/account/mcp"))[1])
    assert f"Only the customer {names[mine[1]]}" in listing.by_id[f"token-{pat['_id']}"]


async def test_restricted_operator_all_customers_means_their_own(tenant, http):
    server, names = tenant
    mine = sorted(names)[:2]
    await restrict(server, TECH, mine)
    user = await signed_in(http, server, TECH)
    status, body = await issue(http, server, mode="all")
    assert status == 200
    words = parse(body).by_id["token-customers"]
    assert "only these 2 customers" in words and "follows your account" in words
    assert await seen_by(http, server, parse(body).by_id["token-value"]) == set(mine)
    assert (await pats_of(server, user))[0]["customers"] is None   # follows the user's limit


@pytest.mark.parametrize("outside", ["another customer", "an id that does not exist"])
async def test_widening_is_refused_next_to_the_field_and_nothing_is_created(tenant, http, outside):
    server, names = tenant
    mine, other = sorted(names)[:2], sorted(names)[5]
    await restrict(server, TECH, mine)
    user = await signed_in(http, server, TECH)
    wanted = other if outside == "another customer" else "cus_doesnotexist0000"
    status, body = await issue(http, server, mode="only", customers=[mine[0], wanted])
    assert status == 400
    page = parse(body)
    error = page.by_id["customers-error"]
    assert "Not among the customers your account is limited to" in error and wanted in error
    # The same words whether the id exists or not, and never the other customer's name.
    assert "does not exist" not in error and "no customer" not in error.lower()
    assert names[other] not in body and "vct_pat_" not in body
    assert page.form("/account/mcp/tokens").checked["customer_mode"] == ["only"]
    assert await pats_of(server, user) == []
    assert not any(r["action"] == "token.issued" for r in await server.storage.audit.recent(SLUG))


async def test_unrestricted_operator_limits_a_token_to_chosen_customers(tenant, http):
    server, names = tenant
    user = await signed_in(http, server, ADMIN)
    page = parse((await get(http, server, "/account/mcp"))[1])
    form = page.form("/account/mcp/tokens")
    assert sorted(form.choices["customer"]) == sorted(names)       # every customer to choose from
    assert form.choices["customer_mode"] == ["all", "only"] and form.checked["customer_mode"] == ["all"]
    assert "account-customers" not in page.by_id
    chosen = sorted(names)[3:7]
    status, body = await issue(http, server, mode="only", customers=chosen)
    assert status == 200
    issued = parse(body)
    assert "only these 4 customers" in issued.by_id["token-customers"]
    assert await seen_by(http, server, issued.by_id["token-value"]) == set(chosen)

    status, body = await issue(http, server, mode="all", label="everything")
    assert status == 200 and "every customer of this tenant" in parse(body).by_id["token-customers"]
    assert await seen_by(http, server, parse(body).by_id["token-value"]) == set(names)

    listing = parse((await get(http, server, "/account/mcp"))[1])
    cells = {p["label"]: listing.by_id[f"token-{p['_id']}"] for p in await pats_of(server, user)}
    assert "All customers" in cells["everything"]
    assert "Only 4 customers" in cells["co-managed"]                # more than 3: a count that opens
    assert all(names[c] in cells["co-managed"] for c in chosen)


@pytest.mark.parametrize("mode, customers, message", [
    ("only", [], "Tick at least one customer"),
    ("all", ["first"], "You ticked customers but chose"),
    ("only", ["cus_nosuchcustomer00"], "No customer cus_nosuchcustomer00 in this tenant"),
    ("only", ["acme"], "Not a customer id: acme"),
    ("some", [], "Choose"),
])
async def test_bad_customer_choices_are_refused(tenant, http, mode, customers, message):
    server, names = tenant
    user = await signed_in(http, server, ADMIN)
    customers = [sorted(names)[0] if c == "first" else c for c in customers]
    status, body = await issue(http, server, mode=mode, customers=customers)
    assert status == 400
    assert message in parse(body).by_id["customers-error"]
    assert "No token was created" in body and "vct_pat_" not in body
    assert await pats_of(server, user) == []


async def test_picker_finds_customers_by_name_on_the_server(tenant, http):
    server, names = tenant
    await signed_in(http, server, ADMIN)
    wanted = sorted(names.values())[4]
    status, body = await get(http, server, "/account/mcp?find=" + wanted[:-1].upper())
    assert status == 200
    offered = parse(body).form("/account/mcp/tokens").choices["customer"]
    assert offered and all(wanted[:-1].lower() in names[c].lower() for c in offered)
    assert next(c for c, n in names.items() if n == wanted) in offered


async def test_a_limit_set_during_a_session_applies_at_the_next_page(tenant, http):
    server, names = tenant
    await signed_in(http, server, ADMIN)
    assert (await get(http, server, "/rules"))[0] == 200
    await restrict(server, ADMIN, sorted(names)[:1])
    status, body = await get(http, server, "/account/mcp")
    assert status == 200 and "only the customer" in parse(body).by_id["account-customers"].lower()
    assert (await get(http, server, "/rules"))[0] == 403


async def test_consent_page_states_which_customers_the_app_will_see(tenant, http):
    server, names = tenant
    client = await register(http, server, SLUG)
    params = authorize_params(server, client, pkce()[1])
    await signed_in(http, server, ADMIN)
    page = await Browser(server, SLUG, http).consent_page(params)
    assert parse(page.text).by_id["consent-customers"] == "Every customer of Acme IT"
    # Approving redirects the form's POST to the client, which browsers check against form-action.
    assert "form-action 'self' http://127.0.0.1:53682;" in page.headers["Content-Security-Policy"]
    mine = sorted(names)[:2]
    await restrict(server, ADMIN, mine)
    page = await Browser(server, SLUG, http).consent_page(params)
    shown = parse(page.text)
    assert "Only these 2 customers" in shown.by_id["consent-customers"]
    assert all(names[c] in shown.by_id["consent-customers"] for c in mine)
    assert "limited to 2 customers" in shown.by_id["consent-limit"]
