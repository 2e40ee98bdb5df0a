"""One pending write, two server processes on one database, two operators pressing Approve at the
same moment, each on a different process: exactly one vendor call, one succeeded outcome, and
the other operator is told who sent it. The processes run with approval_expiry_hours from the
environment, so the setting's path from VECTIS_* to the stored expiry is checked too."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ..support.html import parse
from ..support.http import client_session
from ..support.pages import create_operator, sign_in
from ..support.rpc import rpc
from .conftest import open_ticket, url
from .test_approvals import vendor_writes

pytestmark = pytest.mark.slow
FIRST, SECOND = "first@twoproc.example", "second@twoproc.example"
PAGE = "/account/approvals"


class At:
    """A server process, addressed like the in-process LiveServer the page helpers take."""

    def __init__(self, process):
        self.port = process.port

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{self.port}{path}"


@pytest.mark.parametrize("deployment", [{"settings": {"approval_policy": "customer_visible"},
                                         "env": {"VECTIS_APPROVAL_EXPIRY_HOURS": "2"}}], indirect=True)
async def test_two_approvers_on_two_processes_send_one_write(deployment, http):
    tenant, processes = deployment
    storage, slug, sim = tenant.server.storage, tenant.slug, tenant.sim("psa")
    ticket = await open_ticket(tenant)
    status, body, _ = await rpc(http, url(processes[0], tenant), tenant.token, "tools/call", {
        "name": "reply_to_ticket", "arguments": {"ticket_id": ticket["_id"], "body": "Raced reply."}})
    pending = body["result"]["structuredContent"]
    assert pending["status"] == "pending_approval", body
    doc = await storage.approvals.get(slug, pending["approval_id"])
    assert doc["expires_at"] - doc["requested_at"] == timedelta(hours=2)

    sessions, forms = [], []
    for email in (FIRST, SECOND):
        await create_operator(storage, slug, email, "admin")
    try:
        for email, process in zip((FIRST, SECOND), processes, strict=True):
            session = client_session()
            sessions.append(session)
            status, _, _ = await sign_in(session, At(process), slug, email)
            assert status == 303
            async with session.get(At(process).url(slug, PAGE)) as resp:
                page = parse(await resp.text())
            forms.append(next(dict(f.fields) for f in page.forms if f.action == f"{PAGE}/decide"
                              and f.fields.get("approval_id") == pending["approval_id"]
                              and f.fields.get("decision") == "approve"))
        # The vendor answers slowly, so the winner is still sending when the other claim arrives.
        sim.faults.add(kind="latency", method="POST", seconds=0.5, count=None)
        before = vendor_writes(sim)

        async def approve(session, process, form):
            async with session.post(At(process).url(slug, f"{PAGE}/decide"), data=form,
                                    allow_redirects=False) as resp:
                return resp.status, resp.headers.get("Location")

        answers = await asyncio.gather(*(approve(s, p, f) for s, p, f in zip(sessions, processes, forms, strict=True)))
        assert [a[0] for a in answers] == [303, 303]
        assert vendor_writes(sim) == before + 1
        doc = await storage.approvals.get(slug, pending["approval_id"])
        assert doc["status"] == "succeeded"
        winner = doc["decided_by"]["email"]
        notices = []
        for session, process, (_, location) in zip(sessions, processes, answers, strict=True):
            async with session.get(At(process).url(slug, location.split("#")[0])) as resp:
                notices.append(parse(await resp.text()).by_id["decision-notice"])
        loser = SECOND if winner == FIRST else FIRST
        mine = {FIRST: notices[0], SECOND: notices[1]}
        assert "Approved by you and sent to" in mine[winner]
        assert f"Approved by {winner} and sent to" in mine[loser]
    finally:
        sim.faults.clear()
        for session in sessions:
            await session.close()
    rows = await tenant.db["audit_log"].find({"action": "reply_to_ticket", "status": "success"}).to_list()
    assert len(rows) == 1 and rows[0]["actor"]["approved_by"] == winner
