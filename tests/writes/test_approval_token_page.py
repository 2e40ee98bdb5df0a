"""A token generated on /account/mcp with "every write waits for a person", on a tenant whose
policy is none: its writes are held for approval, another token's are not."""
from __future__ import annotations

from ..support.html import parse
from ..support.pages import create_operator, form_fields, sign_in
from ..support.rpc import structured
from .conftest import open_ticket

EMAIL = "pagetech@approvalpage.example"


async def test_a_token_asking_for_approval_of_every_write_is_held(make_vendor_tenant, http):
    tenant = await make_vendor_tenant("approvalpage", ("connectwise", "ninjaone", "datto_bcdr"))
    server = tenant.server
    await create_operator(server.storage, tenant.slug, EMAIL, "technician")
    assert (await sign_in(http, server, tenant.slug, EMAIL))[0] == 303
    form = await form_fields(http, server.url(tenant.slug, "/account/mcp"), "/account/mcp/tokens")
    data = {**form, "label": "held", "preset": "write", "approval": "all"}
    async with http.post(server.url(tenant.slug, "/account/mcp/tokens"), data=data) as resp:
        assert resp.status == 200
        token = parse(await resp.text()).by_id["token-value"]
    pats = await tenant.db["pats"].find({"label": "held"}).to_list()
    assert [p["approval_policy"] for p in pats] == ["all"]

    ticket = await open_ticket(tenant)
    held = await structured(http, tenant.url, token, "add_internal_note",
                            {"ticket_id": ticket["_id"], "body": "Checked the backup."})
    assert held["status"] == "pending_approval" and held["approval_id"].startswith("apr_")
    # The tenant's policy is none: the fixture's token (no policy of its own) is not held.
    done = await structured(http, tenant.url, tenant.token, "add_internal_note",
                            {"ticket_id": ticket["_id"], "body": "Checked the backup too."})
    assert done.get("status") != "pending_approval"
