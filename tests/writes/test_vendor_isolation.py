"""A hung vendor never blocks other tenants.

Tenant A's PSA creates tickets and then never answers; more of A's calls are sent than the
per-host connection limit allows at once, so some of them wait for A's pool. Tenant B shares the
process and the one vendor HTTP session, and its reads and writes must complete while every one
of A's calls is still pending. The assertion is about order (B done, A not), not speed: A's
calls end only at the vendor timeout, which is generous.
"""
from __future__ import annotations

import asyncio

import pytest

from vectis.vendors.http import RetryPolicy, VendorHttp

from ..support.rpc import call_tool, structured
from . import vendor_view
from .conftest import customer_with_psa

pytestmark = pytest.mark.slow

VENDOR_TIMEOUT = 10.0   # per attempt; A's vendor holds its requests far longer
A_CALLS = 10            # above VendorHttp.limit_per_host: some of A's calls queue for a connection


async def test_a_hung_vendor_does_not_block_another_tenant(make_vendor_tenant, live_server, http):
    a = await make_vendor_tenant("hung", ("connectwise", "ninjaone", "datto_bcdr"))
    b = await make_vendor_tenant("healthy", ("connectwise", "ninjaone", "datto_bcdr"))
    shared = VendorHttp(policy=RetryPolicy(attempts=2, backoff=(0.01,), timeout=VENDOR_TIMEOUT))
    assert A_CALLS > shared.limit_per_host
    live_server.services.connections.http = shared
    a.sim("psa").faults.add(kind="delay_after", method="POST", path=r"/service/tickets$",
                            seconds=10 * VENDOR_TIMEOUT, count=None)
    a_customer, b_customer = await customer_with_psa(a), await customer_with_psa(b)

    a_calls = [asyncio.create_task(call_tool(http, a.url, a.token, "create_ticket", {
        "customer_id": a_customer["_id"], "subject": f"Hung {i}", "description": "Never answered."}))
        for i in range(A_CALLS)]
    for _ in range(400):   # until A's vendor holds requests (the rest wait for A's pool)
        if vendor_view.creates(a.sim("psa"), "connectwise") >= 1:
            break
        await asyncio.sleep(0.05)
    assert vendor_view.creates(a.sim("psa"), "connectwise") >= 1

    created = await structured(http, b.url, b.token, "create_ticket", {
        "customer_id": b_customer["_id"], "subject": "Healthy", "description": "Answered."})
    listed = await structured(http, b.url, b.token, "list_customers", {"limit": 5})
    ticket = await structured(http, b.url, b.token, "get_ticket", {"ticket_id": created["ticket"]["id"]})
    assert listed["items"] and ticket["subject"] == "Healthy"
    assert vendor_view.creates(b.sim("psa"), "connectwise") == 1
    assert not any(t.done() for t in a_calls), "B finished while all of A's calls were still pending"

    results = await asyncio.gather(*a_calls)
    for result in results:
        assert result["isError"] is True
        text = result["content"][0]["text"]
        assert "timeout" in text and "check before retrying" in text, text
    # A create is not idempotent: a timed-out one is never sent twice (a call that timed out
    # while still waiting for A's pool was never sent at all).
    assert vendor_view.creates(a.sim("psa"), "connectwise") <= A_CALLS
