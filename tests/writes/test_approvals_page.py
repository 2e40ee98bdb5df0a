"""/account/approvals over HTTP against the live server and a vendor simulator: what each role
sees, approving (one vendor call) and rejecting (none), forged and CSRF-less posts, customer
limits, expiry, and the admin's policy form."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ..conftest import issue_token
from ..support.html import parse
from ..support.http import client_session
from ..support.pages import create_operator, sign_in
from ..support.rpc import structured
from .conftest import open_ticket
from .test_approvals import set_policy, vendor_writes

ADMIN, TECH, READER = "boss@apage.example", "tech@apage.example", "viewer@apage.example"
PAGE = "/account/approvals"


@pytest.fixture
async def tenant(make_vendor_tenant):
    tenant = await make_vendor_tenant("apage", ("connectwise", "ninjaone", "datto_bcdr"))
    await set_policy(tenant, "customer_visible")
    storage = tenant.server.storage
    for email, role in ((ADMIN, "admin"), (TECH, "technician"), (READER, "readonly")):
        await create_operator(storage, tenant.slug, email, role)
    return tenant


async def queue_reply(http, tenant, body: str, token: str | None = None) -> dict:
    ticket = await open_ticket(tenant)
    pending = await structured(http, tenant.url, token or tenant.token, "reply_to_ticket",
                               {"ticket_id": ticket["_id"], "body": body})
    assert pending["status"] == "pending_approval", pending
    return pending


async def signed_in(tenant, email: str):
    session = client_session()
    status, _, _ = await sign_in(session, tenant.server, tenant.slug, email)
    assert status == 303
    return session


async def get_page(session, tenant, path: str = PAGE) -> tuple[int, str]:
    async with session.get(tenant.server.url(tenant.slug, path), allow_redirects=False) as resp:
        return resp.status, await resp.text()


def decide_form(body: str, approval_id: str, decision: str) -> dict:
    return next(dict(f.fields) for f in parse(body).forms
                if f.action == f"{PAGE}/decide" and f.fields.get("approval_id") == approval_id
                and f.fields.get("decision") == decision)


async def post(session, tenant, path: str, fields: dict) -> tuple[int, str | None, str]:
    async with session.post(tenant.server.url(tenant.slug, path), data=fields, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


async def csrf(session, tenant) -> str:
    _, body = await get_page(session, tenant)
    return parse(body).forms[0].fields["_csrf"]     # the sign-out form, on every page


def policy_choices(body: str) -> list[tuple[str, bool]]:
    """The policy form's radio buttons: (value, checked)."""
    return [(value, bool(checked)) for value, checked in re.findall(
        r'<input type="radio" name="policy" value="([a-z_]+)"( checked)?>', body)]


async def test_lists_pending_writes_with_plan_and_requester(tenant, http):
    pending = await queue_reply(http, tenant, "We replaced the <b>switch</b>.")
    async with await signed_in(tenant, ADMIN) as admin:
        status, body = await get_page(admin, tenant)
    assert status == 200
    row = parse(body).by_id[pending["approval_id"]]
    customer = await tenant.db["customers"].find_one({"_id": pending["target"]["customer_id"]})
    assert "reply_to_ticket" in row and customer["name"] in row
    assert tenant.admin_email in row and "token “test”" in row        # who, and with which token
    call = pending["requests"][0]
    assert call["method"] in row and call["path"] in row
    assert "We replaced the <b>switch</b>." in row                    # the body, as text
    assert "<b>switch</b>" not in body                                 # escaped in the HTML
    assert "23 h 59 min" in row or "24 h 0 min" in row
    assert pending["approval_url"].endswith(PAGE + "#" + pending["approval_id"])
    # A read-only operator's role cannot hold write scopes: nothing listed, nothing to press.
    async with await signed_in(tenant, READER) as reader:
        status, body = await get_page(reader, tenant)
        assert status == 200 and "no-approvals" in parse(body).by_id
        assert pending["approval_id"] not in body
        fields = {"_csrf": await csrf(reader, tenant), "approval_id": pending["approval_id"], "decision": "approve"}
        status, _, _ = await post(reader, tenant, f"{PAGE}/decide", fields)
        assert status == 403
    assert (await tenant.server.services.approvals.status_of(tenant.slug, pending["approval_id"]))["status"] == "pending"


async def test_approve_dispatches_once_and_reject_sends_nothing(tenant, http):
    sim = tenant.sim("psa")
    before = vendor_writes(sim)
    sent = await queue_reply(http, tenant, "Approved reply.")
    refused = await queue_reply(http, tenant, "Rejected reply.")
    async with await signed_in(tenant, ADMIN) as admin:
        _, body = await get_page(admin, tenant)
        approve = decide_form(body, sent["approval_id"], "approve")
        status, location, _ = await post(admin, tenant, f"{PAGE}/decide", approve)
        assert (status, location) == (303, f"{PAGE}?decided={sent['approval_id']}#{sent['approval_id']}")
        assert vendor_writes(sim) == before + 1
        _, body = await get_page(admin, tenant, location.split("#")[0])
        page = parse(body)
        assert "Approved by you and sent to" in page.by_id["decision-notice"]
        assert "succeeded" in page.by_id[sent["approval_id"]] and ADMIN in page.by_id[sent["approval_id"]]
        # The same form again (a double click, a reload of the POST): still one vendor call.
        status, _, _ = await post(admin, tenant, f"{PAGE}/decide", approve)
        assert status == 303 and vendor_writes(sim) == before + 1

        reject = {**decide_form(body, refused["approval_id"], "reject"), "reason": "  Wrong   tone "}
        status, location, _ = await post(admin, tenant, f"{PAGE}/decide", reject)
        assert status == 303 and vendor_writes(sim) == before + 1
        _, body = await get_page(admin, tenant, location.split("#")[0])
        assert "Rejected by you; nothing was sent. Reason: Wrong tone" in parse(body).by_id["decision-notice"]
    view = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": refused["approval_id"]})
    assert (view["status"], view["reason"], view["decided_by"]) == ("rejected", "Wrong tone", ADMIN)
    view = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": sent["approval_id"]})
    assert view["status"] == "succeeded" and view["decided_by"] == ADMIN


async def test_a_vendor_refusal_is_shown_in_words(tenant, http):
    sim = tenant.sim("psa")
    pending = await queue_reply(http, tenant, "Refused by the vendor.")
    sim.faults.add(kind="status", method="POST", status=400, message="The ticket is locked by another user.", count=None)
    async with await signed_in(tenant, ADMIN) as admin:
        _, body = await get_page(admin, tenant)
        status, location, _ = await post(admin, tenant, f"{PAGE}/decide",
                                         decide_form(body, pending["approval_id"], "approve"))
        _, body = await get_page(admin, tenant, location.split("#")[0])
    sim.faults.clear()
    notice = parse(body).by_id["decision-notice"]
    assert "did not go through" in notice and "locked by another user" in notice, notice
    doc = await tenant.server.services.approvals.status_of(tenant.slug, pending["approval_id"])
    assert doc["status"] == "failed" and doc["outcome"]["message"] in notice


async def test_a_technician_decides_only_their_own_writes(tenant, http):
    sim = tenant.sim("psa")
    theirs = await queue_reply(http, tenant, "Admin's AI reply.")
    tech_token = await issue_token(tenant.server.storage, tenant.server.config, tenant.slug, TECH,
                                   ("read:tickets", "write:notes"))
    own = await queue_reply(http, tenant, "Technician's AI reply.", token=tech_token)
    before = vendor_writes(sim)
    async with await signed_in(tenant, TECH) as tech:
        _, body = await get_page(tech, tenant)
        listed = parse(body).by_id
        assert own["approval_id"] in listed and theirs["approval_id"] not in listed
        # A forged POST for another operator's write is as unknown as a made-up id.
        forged = {**decide_form(body, own["approval_id"], "approve"), "approval_id": theirs["approval_id"]}
        status, _, _ = await post(tech, tenant, f"{PAGE}/decide", forged)
        assert status == 404
        status, _, _ = await post(tech, tenant, f"{PAGE}/decide", {**forged, "decision": "reject"})
        assert status == 404
        # Nor may a technician set the policy.
        status, _, _ = await post(tech, tenant, f"{PAGE}/policy", {"_csrf": forged["_csrf"], "policy": "none"})
        assert status == 403
        assert vendor_writes(sim) == before
        status, _, _ = await post(tech, tenant, f"{PAGE}/decide", decide_form(body, own["approval_id"], "approve"))
        assert status == 303 and vendor_writes(sim) == before + 1
    approvals = tenant.server.services.approvals
    assert (await approvals.status_of(tenant.slug, theirs["approval_id"]))["status"] == "pending"
    assert (await approvals.status_of(tenant.slug, own["approval_id"]))["status"] == "succeeded"
    assert (await tenant.server.storage.tenants.get(tenant.slug))["settings"]["approval_policy"] == "customer_visible"


async def test_an_operator_limited_to_other_customers_neither_sees_nor_decides(tenant, http):
    storage, slug = tenant.server.storage, tenant.slug
    pending = await queue_reply(http, tenant, "For one customer only.")
    customer_id = (await tenant.server.services.approvals.status_of(slug, pending["approval_id"]))["customer_id"]
    other = await tenant.db["customers"].find_one({"_id": {"$ne": customer_id}})
    admin = await storage.users.by_email(slug, ADMIN)
    await storage.users.set_customers(slug, admin["_id"], frozenset({other["_id"]}))
    async with await signed_in(tenant, ADMIN) as limited:
        status, body = await get_page(limited, tenant)
        assert status == 200 and pending["approval_id"] not in body
        assert "policy" not in [f.action.rsplit("/", 1)[-1] for f in parse(body).forms]   # no policy form
        token = await csrf(limited, tenant)
        for decision in ("approve", "reject"):
            status, _, _ = await post(limited, tenant, f"{PAGE}/decide",
                                      {"_csrf": token, "approval_id": pending["approval_id"], "decision": decision})
            assert status == 404
        status, _, body = await post(limited, tenant, f"{PAGE}/policy", {"_csrf": token, "policy": "none"})
        assert status == 403 and "limited to some customers" in body
        # Within the limit, the same operator sees it (the user is read again at every request).
        await storage.users.set_customers(slug, admin["_id"], frozenset({customer_id}))
        _, body = await get_page(limited, tenant)
        assert pending["approval_id"] in parse(body).by_id
    assert (await tenant.server.services.approvals.status_of(slug, pending["approval_id"]))["status"] == "pending"


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(tenant, http):
    sim = tenant.sim("psa")
    pending = await queue_reply(http, tenant, "CSRF target.")
    before = vendor_writes(sim)
    async with await signed_in(tenant, ADMIN) as admin:
        _, body = await get_page(admin, tenant)
        form = decide_form(body, pending["approval_id"], "approve")
        for fields in ({k: v for k, v in form.items() if k != "_csrf"}, {**form, "_csrf": "0" * 64}):
            status, _, _ = await post(admin, tenant, f"{PAGE}/decide", fields)
            assert status == 403
            status, _, _ = await post(admin, tenant, f"{PAGE}/policy", {**fields, "policy": "none"})
            assert status == 403
    # Nor is another session's token any good.
    async with await signed_in(tenant, ADMIN) as other:
        status, _, _ = await post(other, tenant, f"{PAGE}/decide", form)
        assert status == 403
    assert vendor_writes(sim) == before
    assert (await tenant.server.services.approvals.status_of(tenant.slug, pending["approval_id"]))["status"] == "pending"
    assert (await tenant.server.storage.tenants.get(tenant.slug))["settings"]["approval_policy"] == "customer_visible"


async def test_an_admin_sets_the_policy_and_it_applies_at_once(tenant, http):
    ticket = await open_ticket(tenant)
    note = {"ticket_id": ticket["_id"], "body": "An internal note."}
    assert "status" not in await structured(http, tenant.url, tenant.token, "add_internal_note", note)
    async with await signed_in(tenant, ADMIN) as admin:
        _, body = await get_page(admin, tenant)
        form = parse(body).form(f"{PAGE}/policy")
        assert policy_choices(body) == ([("none", False), ("customer_visible", True), ("all", False)])
        assert "Writes the customer sees wait for a person" in body
        status, _, _ = await post(admin, tenant, f"{PAGE}/policy", {**form.fields, "policy": "sometimes"})
        assert status == 400
        status, location, _ = await post(admin, tenant, f"{PAGE}/policy", {**form.fields, "policy": "all"})
        assert (status, location) == (303, f"{PAGE}?policy=all")
        _, body = await get_page(admin, tenant, location)
        assert "Every vendor write waits for a person." in parse(body).by_id["decision-notice"]
        assert [name for name, checked in policy_choices(body) if checked] == ["all"]
    # No tenant cache to wait out in this process: the next internal note waits too.
    held = await structured(http, tenant.url, tenant.token, "add_internal_note", note)
    assert held["status"] == "pending_approval"
    row = await tenant.db["audit_log"].find_one({"action": "approval_policy.set"})
    assert row["detail"] == {"policy": "all", "was": "customer_visible"} and row["actor"]["email"] == ADMIN


async def test_an_expired_write_cannot_be_approved(tenant, http):
    sim = tenant.sim("psa")
    pending = await queue_reply(http, tenant, "Too late.")
    approvals = tenant.server.services.approvals
    doc = await approvals.status_of(tenant.slug, pending["approval_id"])
    assert doc["expires_at"] - doc["requested_at"] == timedelta(hours=24)    # the default
    # A day later, as far as the write is concerned.
    await tenant.db["approvals"].update_one({"_id": doc["_id"]}, {"$set": {
        "expires_at": datetime.now(UTC) - timedelta(seconds=1)}})
    view = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": doc["_id"]})
    assert view["status"] == "expired"
    before = vendor_writes(sim)
    async with await signed_in(tenant, ADMIN) as admin:
        status, body = await get_page(admin, tenant)
        assert status == 200 and doc["_id"] not in [f.fields.get("approval_id") for f in parse(body).forms]
        assert "expired" in parse(body).by_id[doc["_id"]]                 # under recently decided
        status, location, _ = await post(admin, tenant, f"{PAGE}/decide", {
            "_csrf": await csrf(admin, tenant), "approval_id": doc["_id"], "decision": "approve"})
        assert status == 303
        _, body = await get_page(admin, tenant, location.split("#")[0])
        assert "expired before anyone approved it" in parse(body).by_id["decision-notice"]
    decided = await approvals.decide(tenant.slug, doc["_id"], await tenant.server.storage.users.by_email(
        tenant.slug, ADMIN), True)
    assert decided["status"] == "expired" and decided["decided_by"] is None
    assert vendor_writes(sim) == before
    view = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": doc["_id"]})
    assert view["status"] == "expired"


async def test_signed_out_is_sent_to_signin(tenant, http):
    async with http.get(tenant.server.url(tenant.slug, PAGE), allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/signin?next=%2Faccount%2Fapprovals"
