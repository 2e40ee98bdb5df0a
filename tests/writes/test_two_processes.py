"""Idempotency across a deployment: two real server processes on one database and one vendor.
Twenty concurrent calls with one key, split between them, dispatch once; and a process killed
after the vendor acted (before it could record the result) leaves nothing for a retry on the
other process to duplicate."""
from __future__ import annotations

import asyncio
import contextlib

import pytest

from ..support.processes import ServerProcess, clean_env
from ..support.rpc import rpc
from . import vendor_view
from .conftest import customer_with_psa

pytestmark = pytest.mark.slow


@pytest.fixture
async def deployment(request, make_vendor_tenant, live_server, mongo_uri, db_prefix, tmp_path):
    """Two server processes; the crash test shortens the write lease so that the dead process's
    reservation expires quickly, the other keeps the default so a slow machine never expires a
    lease that is still being worked on."""
    lease = request.param
    tenant = await make_vendor_tenant("twoproc", ("connectwise", "ninjaone", "datto_bcdr"))
    config = live_server.config
    processes = []
    for name in ("a", "b"):
        env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                        VECTIS_DATA_DIR=str(tmp_path / name), VECTIS_COOKIE_SECRET=config.cookie_secret,
                        VECTIS_ENCRYPTION_KEY=config.encryption_key, VECTIS_TOKEN_PEPPER=config.token_pepper,
                        VECTIS_WRITE_LEASE_SECONDS=str(lease), VECTIS_SYNC_INTERVAL_SECONDS="0", VECTIS_LOG_LEVEL="warning")
        process = ServerProcess("--no-demo", env=env)
        await asyncio.to_thread(process.start)
        processes.append(process)
    yield tenant, processes
    for process in processes:
        await asyncio.to_thread(process.kill)
        print(f"--- server {process.port} stderr ---\n{process.stderr[-5000:]}")  # shown on failure


def url(process, tenant) -> str:
    return f"http://{tenant.slug}.localhost:{process.port}/api/mcp"


@pytest.mark.parametrize("deployment", [120], indirect=True)
async def test_one_key_across_two_processes_dispatches_once(deployment, http):
    tenant, processes = deployment
    customer = await customer_with_psa(tenant)
    args = {"customer_id": customer["_id"], "subject": "Two processes", "description": "One ticket.",
            "idempotency_key": "cross-process"}
    tenant.sim("psa").faults.add(kind="latency", method="POST", path=r"/service/tickets$", seconds=0.5)
    answers = await asyncio.gather(*(
        rpc(http, url(processes[i % 2], tenant), tenant.token, "tools/call",
            {"name": "create_ticket", "arguments": args}) for i in range(20)))
    assert vendor_view.creates(tenant.sim("psa"), "connectwise") == 1
    tickets = set()
    for status, body, _ in answers:
        assert status == 200, body
        if "error" in body:
            assert body["error"]["code"] == -32005, body
        else:
            tickets.add(body["result"]["structuredContent"]["ticket"]["id"])
    assert len(tickets) == 1
    assert await tenant.db["tickets"].count_documents({"subject": "Two processes"}) == 1


@pytest.mark.parametrize("deployment", [3], indirect=True)
async def test_a_crash_after_dispatch_is_finished_elsewhere_without_a_second_ticket(deployment, http):
    tenant, (first, second) = deployment
    customer = await customer_with_psa(tenant)
    args = {"customer_id": customer["_id"], "subject": "Crash after dispatch",
            "description": "The vendor creates it, then the process dies.", "idempotency_key": "crash"}
    sim = tenant.sim("psa")
    sim.faults.add(kind="delay_after", method="POST", path=r"/service/tickets$", seconds=30)
    call = asyncio.create_task(rpc(http, url(first, tenant), tenant.token, "tools/call",
                                   {"name": "create_ticket", "arguments": args}))
    for _ in range(200):                      # until the vendor has created the ticket
        if vendor_view.creates(sim, "connectwise") == 1:
            break
        await asyncio.sleep(0.05)
    assert vendor_view.creates(sim, "connectwise") == 1
    await asyncio.to_thread(first.kill)       # SIGKILL: no chance to record anything
    with contextlib.suppress(Exception):
        await call
    sim.faults.clear()

    result = None
    for _ in range(100):                      # -32005 until the dead process's lease runs out
        status, body, _ = await rpc(http, url(second, tenant), tenant.token, "tools/call",
                                    {"name": "create_ticket", "arguments": args})
        assert status == 200, body
        if "result" in body:
            result = body["result"]
            break
        assert body["error"]["code"] == -32005
        await asyncio.sleep(min(body["error"]["data"]["retryAfterSeconds"], 1))
    assert result is not None and result["isError"] is False, result
    assert vendor_view.creates(sim, "connectwise") == 1
    stored = await tenant.db["tickets"].find({"subject": "Crash after dispatch"}).to_list()
    assert [t["_id"] for t in stored] == [result["structuredContent"]["ticket"]["id"]]
    rows = await tenant.db["audit_log"].find({"action": "create_ticket"}).sort("at", 1).to_list()
    assert rows[-1]["status"] == "success" and rows[-1]["detail"]["recovered"] is True
    # The killed process's own row stayed "error / dispatching": the audit never claims success
    # for a call whose outcome its process did not see.
    assert rows[0]["status"] == "error" and rows[0]["detail"]["stage"] == "dispatching"
