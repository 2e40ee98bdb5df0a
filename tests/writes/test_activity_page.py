"""/account/activity over HTTP against the live server and vendor simulators: real MCP calls of two
operators' tokens (a read, a write, its replay, a call denied by scope, one denied by MFA, invalid
arguments), then what an admin and a technician see, the filters and their errors, a call's detail
with its arguments elided, and the audit row every view writes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from vectis.credentials.pats import display_prefix, generate_pat, hash_token
from vectis.scopes import READ_SCOPES

from ..support.html import parse
from ..support.http import client_session
from ..support.pages import create_operator, sign_in
from ..support.rpc import call_tool, rpc, structured
from .conftest import open_ticket

ADMIN, TECH = "owner@activity.example", "tech@activity.example"
PAGE = "/account/activity"
LONG_BODY = "The replacement switch is racked and patched. " * 10     # 470 characters


async def token_for(server, slug: str, email: str, scopes, label: str) -> str:
    user = await server.storage.users.by_email(slug, email)
    token = generate_pat()
    await server.storage.pats.insert(slug, token_hash=hash_token(server.config.token_pepper, token),
                                     prefix=display_prefix(token), label=label, scopes=tuple(scopes),
                                     user_id=user["_id"], expires_at=None)
    return token


@dataclass
class Activity:
    tenant: object
    tech_token: str
    ticket: dict
    tech_id: str
    admin_id: str


async def make_activity(make_vendor_tenant, http, slug: str) -> Activity:
    """A vendor tenant, an admin and a technician who can sign in, and real calls of two tokens:
    the demo admin's (every scope, label "test") and the technician's (read scopes only)."""
    tenant = await make_vendor_tenant(slug, ("connectwise", "ninjaone", "datto_bcdr"))
    storage = tenant.server.storage
    admin = await create_operator(storage, slug, ADMIN, "admin")
    tech = await create_operator(storage, slug, TECH, "technician")
    tech_token = await token_for(tenant.server, slug, TECH, READ_SCOPES, "tech laptop")
    ticket = await open_ticket(tenant)
    await structured(http, tenant.url, tenant.token, "list_open_tickets", {"limit": 5})
    reply = {"ticket_id": ticket["_id"], "body": LONG_BODY, "idempotency_key": "reply-switch-1"}
    first = await structured(http, tenant.url, tenant.token, "reply_to_ticket", reply)
    again = await call_tool(http, tenant.url, tenant.token, "reply_to_ticket", reply)
    assert again["isError"] is False and again["structuredContent"] == first      # replayed
    status, body, _ = await rpc(http, tenant.url, tenant.token, "tools/call", {
        "name": "close_ticket", "arguments": {"ticket_id": ticket["_id"], "resolution_summary": "Done."}})
    assert body["error"]["code"] == -32003                                          # MFA
    status, _, _ = await rpc(http, tenant.url, tech_token, "tools/call", {
        "name": "reply_to_ticket", "arguments": {"ticket_id": ticket["_id"], "body": "hi"}})
    assert status == 403                                                            # scope
    bad = await call_tool(http, tenant.url, tech_token, "get_ticket",
                          {"ticket_id": ticket["_id"], "api_token": "sk-live-very-secret"})
    assert bad["isError"] is True                                                   # unknown argument
    await structured(http, tenant.url, tech_token, "get_ticket", {"ticket_id": ticket["_id"]})
    await tenant.server.services.audit.flush()     # reads are buffered
    return Activity(tenant, tech_token, ticket, tech["_id"], admin["_id"])


@pytest.fixture
async def activity(make_vendor_tenant, http):
    return await make_activity(make_vendor_tenant, http, "activity")


async def signed_in(tenant, email: str):
    session = client_session()
    status, _, _ = await sign_in(session, tenant.server, tenant.slug, email)
    assert status == 303
    return session


async def get(session, tenant, path: str = PAGE, **query) -> tuple[int, str]:
    url = tenant.server.url(tenant.slug, path + (("?" + urlencode(query)) if query else ""))
    async with session.get(url, allow_redirects=False) as resp:
        return resp.status, await resp.text()


def table_rows(body: str) -> list[tuple[str, str]]:
    """(row id, its text) of the activity table, in page order."""
    page = parse(body)
    ids = re.findall(r'<tr id="(aud_[a-z2-7]+)"', body)
    return [(i, " ".join(page.by_id[i].split())) for i in ids]


def summary(rows) -> list[tuple[str, str]]:
    """(tool, outcome words) per row: the tool is the row's code element, the outcome its badge."""
    out = []
    for _, text in rows:
        tool = next(t for t in ("list_open_tickets", "reply_to_ticket", "close_ticket", "get_ticket") if t in text)
        outcome = next(w for w in ("denied by scope", "denied by MFA", "replayed", "error", "success") if w in text)
        out.append((tool, outcome))
    return out


async def test_admin_sees_every_call_newest_first_with_credential_target_and_outcome(activity):
    tenant = activity.tenant
    async with await signed_in(tenant, ADMIN) as admin:
        status, body = await get(admin, tenant)
    assert status == 200
    rows = table_rows(body)
    assert summary(rows) == [("get_ticket", "success"), ("get_ticket", "error"),
                             ("reply_to_ticket", "denied by scope"), ("close_ticket", "denied by MFA"),
                             ("reply_to_ticket", "replayed"), ("reply_to_ticket", "success"),
                             ("list_open_tickets", "success")]
    texts = [t for _, t in rows]
    # Who, and with which credential: the token's label.
    assert all(TECH in t and "token “tech laptop”" in t for t in texts[:3])
    assert all(tenant.admin_email in t and "token “test”" in t for t in texts[3:])
    # The target: the ticket (no ticket page: its id as text) and its customer, also for reads.
    customer = await tenant.db["customers"].find_one({"_id": activity.ticket["customer_id"]})
    for text in texts[:6]:
        assert f"ticket {activity.ticket['_id']}" in text and customer["name"] in text
    assert re.search(r"\d+ ms", texts[-1])
    # Each row opens its own page.
    for row_id, _ in rows:
        assert f'href="/account/activity/{row_id}"' in body
    assert 'href="/account/activity"' in body          # the nav link of the shared layout


async def test_detail_shows_elided_arguments_vendor_requests_and_result(activity, http):
    tenant = activity.tenant
    rows = {r["status"]: r for r in await tenant.db["audit_log"].find({"action": "reply_to_ticket"}).to_list()}
    async with await signed_in(tenant, ADMIN) as admin:
        status, body = await get(admin, tenant, f"{PAGE}/{rows['success']['_id']}")
        assert status == 200
        page = parse(body)
        arguments = page.by_id["arguments"]
        assert LONG_BODY[:200] in arguments and f"[{len(LONG_BODY)} characters]" in arguments
        assert LONG_BODY not in arguments                       # cut, not stored whole
        assert '"idempotency_key": "present"' in arguments and "reply-switch-1" not in body
        result = " ".join(page.by_id["result"].split())
        assert "connectwise" in result and "Vendor verb" in result and "Vendor status" in result
        assert "success" in page.by_id["outcome"] and "token “test”" in page.by_id["credential"]

        status, body = await get(admin, tenant, f"{PAGE}/{rows['replayed']['_id']}")
        assert status == 200 and "replayed" in parse(body).by_id["outcome"]
        assert rows["success"]["request_id"] in parse(body).by_id["result"]   # the original call

        # A secret-looking argument is elided, in the stored row and on the page.
        bad = await tenant.db["audit_log"].find_one({"action": "get_ticket", "status": "error"})
        assert bad["detail"]["arguments"]["api_token"] == "[elided]"
        status, body = await get(admin, tenant, f"{PAGE}/{bad['_id']}")
        assert status == 200 and "sk-live-very-secret" not in body
        assert '"api_token": "[elided]"' in parse(body).by_id["arguments"]

        # A dry run shows the exact vendor requests it would send.
        ticket = activity.ticket
        await structured(http, tenant.url, tenant.token, "add_internal_note",
                         {"ticket_id": ticket["_id"], "body": "Dry note.", "dry_run": True})
        dry = await tenant.db["audit_log"].find_one({"action": "add_internal_note", "status": "dry_run"})
        status, body = await get(admin, tenant, f"{PAGE}/{dry['_id']}")
        requests = parse(body).by_id["requests"]
        assert "POST" in requests and "Dry note." in requests and "dry run" in parse(body).by_id["outcome"]

        # Not an MCP call (an operator's sign-in row), or no such row: nothing here.
        signin = await tenant.db["audit_log"].find_one({"action": "signin"})
        for row_id in (signin["_id"], "aud_" + "a" * 16, "nonsense"):
            status, _ = await get(admin, tenant, f"{PAGE}/{row_id}")
            assert status == 404


async def test_filters_narrow_the_rows_and_bad_values_are_explained(activity):
    tenant = activity.tenant
    tech_pat = await tenant.db["pats"].find_one({"label": "tech laptop"})
    async with await signed_in(tenant, ADMIN) as admin:
        async def tools(**query) -> list[tuple[str, str]]:
            status, body = await get(admin, tenant, **query)
            assert status == 200, parse(body).by_id.get("filter-error")
            return summary(table_rows(body))

        assert await tools(operator=activity.tech_id) == [
            ("get_ticket", "success"), ("get_ticket", "error"), ("reply_to_ticket", "denied by scope")]
        assert await tools(credential=tech_pat["_id"], outcome="error") == [("get_ticket", "error")]
        assert await tools(tool="reply_to_ticket") == [
            ("reply_to_ticket", "denied by scope"), ("reply_to_ticket", "replayed"), ("reply_to_ticket", "success")]
        assert await tools(outcome="replayed") == [("reply_to_ticket", "replayed")]
        assert await tools(outcome="denied_mfa") == [("close_ticket", "denied by MFA")]
        now = datetime.now(UTC)
        assert await tools(to=(now - timedelta(days=1)).strftime("%Y-%m-%d")) == []
        assert len(await tools(**{"from": (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")})) == 7
        # The form keeps what was chosen.
        status, body = await get(admin, tenant, tool="get_ticket", outcome="error")
        assert '<option value="get_ticket" selected>' in body and '<option value="error" selected>' in body

        for query, words in (({"outcome": "exploded"}, "is not an outcome"),
                             ({"tool": "drop_tables"}, "is not a tool"),
                             ({"from": "yesterday"}, "is not a time for From"),
                             ({"from": "2030-01-02", "to": "2030-01-01"}, "must be later"),
                             ({"operator": "usr_nobody"}, "No operator"),
                             ({"credential": "pat_nobody"}, "No token or app"),
                             ({"before": "forged"}, "not valid")):
            status, body = await get(admin, tenant, **query)
            assert status == 400 and words in parse(body).by_id["filter-error"], (query, body[-800:])


async def test_a_technician_sees_only_their_own_calls(activity):
    tenant = activity.tenant
    theirs = await tenant.db["audit_log"].find_one({"action": "close_ticket"})     # the admin token's
    own = await tenant.db["audit_log"].find_one({"action": "reply_to_ticket", "status": "denied_scope"})
    async with await signed_in(tenant, TECH) as tech:
        status, body = await get(tech, tenant)
        assert status == 200
        assert summary(table_rows(body)) == [
            ("get_ticket", "success"), ("get_ticket", "error"), ("reply_to_ticket", "denied by scope")]
        assert tenant.admin_email not in body and 'name="operator"' not in body
        assert "token “test”" not in body            # only their own credentials to filter by
        status, _ = await get(tech, tenant, f"{PAGE}/{theirs['_id']}")
        assert status == 404
        status, body = await get(tech, tenant, f"{PAGE}/{own['_id']}")
        assert status == 200 and "denied by scope" in body and "write:notes" in body
        status, body = await get(tech, tenant, operator=activity.admin_id)
        assert status == 400 and "your own tokens" in parse(body).by_id["filter-error"]
    # An admin limited to some customers sees only their own calls too: others' could be about any customer.
    storage = tenant.server.storage
    await storage.users.set_customers(tenant.slug, activity.admin_id, frozenset({activity.ticket["customer_id"]}))
    async with await signed_in(tenant, ADMIN) as limited:
        status, body = await get(limited, tenant)
        assert status == 200 and table_rows(body) == [] and "no-activity" in parse(body).by_id
        status, _ = await get(limited, tenant, f"{PAGE}/{own['_id']}")
        assert status == 404


async def test_every_view_is_audited_with_its_filters(activity):
    tenant = activity.tenant
    row = await tenant.db["audit_log"].find_one({"action": "close_ticket"})
    async with await signed_in(tenant, ADMIN) as admin:
        await get(admin, tenant, tool="close_ticket", outcome="denied_mfa")
        await get(admin, tenant, f"{PAGE}/{row['_id']}")
        await get(admin, tenant, outcome="exploded")
    views = await tenant.db["audit_log"].find({"action": "activity.viewed"}).sort("at", 1).to_list()
    assert [(v["kind"], v["status"], v["actor"]["email"], v["actor"]["kind"]) for v in views] == [
        ("auth", "success", ADMIN, "operator"), ("auth", "success", ADMIN, "operator"),
        ("auth", "error", ADMIN, "operator")]
    assert views[0]["detail"] == {"page": "list", "filters": {"tool": "close_ticket", "outcome": "denied_mfa"},
                                  "older": False, "rows": 1}
    assert views[1]["detail"] == {"page": "detail", "row_id": row["_id"], "found": True}
    assert "is not an outcome" in views[2]["detail"]["error"]
    # Views are not AI activity: the page does not list them.
    async with await signed_in(tenant, ADMIN) as admin:
        _, body = await get(admin, tenant)
    assert "activity.viewed" not in body
