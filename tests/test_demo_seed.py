"""Demo seeding: realistic data on first start, and a second run changes nothing."""
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from bson import json_util

from vectis.credentials.passwords import verify_password
from vectis.demo.generator import COLLECTIONS
from vectis.demo.seed import DEMO_TENANTS, demo_passwords, seed_demo, seed_tenant

from .conftest import make_config
from .support.processes import ServerProcess, clean_env, run_cli


async def fingerprint(storage, slug):
    """Every document of the tenant's seeded collections, hashed in a stable order."""
    digest = hashlib.sha256()
    for name in COLLECTIONS:
        async for doc in storage.db.tenant(slug)[name].find({}).sort("_id", 1):
            digest.update(json_util.dumps(doc, sort_keys=True).encode())
    return digest.hexdigest()


async def test_seeding_twice_changes_nothing(storage, tmp_path, mongo_uri, db_prefix):
    config = make_config(tmp_path, mongo_uri, db_prefix)
    logins = await seed_demo(storage, config)
    assert set(logins) == set(DEMO_TENANTS)
    before = {slug: await fingerprint(storage, slug) for slug in DEMO_TENANTS}
    counts = {slug: await storage.bulk.count(slug, "tickets") for slug in DEMO_TENANTS}
    assert all(n > 100 for n in counts.values())
    assert await seed_demo(storage, config) == logins
    # Even without the completion marker, re-running the generator (later, so every time differs)
    # inserts nothing and changes nothing.
    passwords = demo_passwords(config.data_dir)
    inserted = await seed_tenant(storage, "acme", "Acme", passwords=passwords["acme"],
                                 now=datetime.now(UTC) + timedelta(days=3))
    assert sum(inserted.values()) == 0
    assert {slug: await fingerprint(storage, slug) for slug in DEMO_TENANTS} == before


async def test_demo_operators_can_sign_in_with_the_printed_passwords(storage, tmp_path, mongo_uri, db_prefix):
    config = make_config(tmp_path, mongo_uri, db_prefix)
    logins = await seed_demo(storage, config)
    path = config.data_dir / "demo-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for slug, accounts in logins.items():
        for email, password in accounts.items():
            user = await storage.users.by_email(slug, email)
            assert verify_password(user["password_hash"], password)
    assert json.loads(path.read_text()) == logins


async def test_an_interrupted_seed_is_completed_by_the_next_run(storage, tmp_path, mongo_uri, db_prefix):
    config = make_config(tmp_path, mongo_uri, db_prefix)
    await seed_demo(storage, config)
    tickets = storage.db.tenant("acme")["tickets"]
    complete = set(await tickets.distinct("_id"))
    untouched = await fingerprint(storage, "northwind")
    await tickets.delete_many({"priority": "low"})   # as if the first run had stopped mid-way
    await storage.db.control["meta"].delete_one({"_id": "demo_seeded:acme"})
    await seed_demo(storage, config)
    assert set(await tickets.distinct("_id")) == complete
    assert await fingerprint(storage, "northwind") == untouched


@pytest.mark.slow
def test_plain_start_gives_a_demo_server(tmp_path):
    server = ServerProcess("--data-dir", str(tmp_path / "data")).start(timeout=120)
    try:
        import urllib.request
        for slug in DEMO_TENANTS:
            req = urllib.request.Request(f"http://127.0.0.1:{server.port}/",
                                         headers={"Host": f"{slug}.localhost:{server.port}"})
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert json.loads(resp.read())["mcp_endpoint"] == f"http://{slug}.localhost:{server.port}/api/mcp"
        # The demo's vendor tools are simulators started with the server: a write really
        # dispatches over HTTP to acme's ConnectWise.
        issued = run_cli("admin", "--data-dir", str(tmp_path / "data"), "issue-token", "acme",
                         "alex.morgan@acme.example", "--scopes", "read:tickets,write:notes",
                         "--label", "demo-test", env=clean_env())
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        listed = _call(server.port, "acme", token, "list_open_tickets", {"limit": 1})
        ticket = listed["structuredContent"]["items"][0]
        reply = _call(server.port, "acme", token, "reply_to_ticket",
                      {"ticket_id": ticket["id"], "body": "Hello from the demo test."})
        assert reply["isError"] is False, reply
        assert reply["structuredContent"]["vendor"] == "connectwise"
    finally:
        assert server.stop() == 0
    assert "alex.morgan@acme.example" in server.stdout
    assert "Demo vendor tools" in server.stdout and "acme:connectwise" in server.stdout
    assert f"http://acme.localhost:{server.port}/api/mcp" in server.stdout


def _call(port: int, slug: str, token: str, name: str, arguments: dict) -> dict:
    import urllib.request
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/mcp", data=body, method="POST", headers={
        "Host": f"{slug}.localhost:{port}", "Authorization": f"Bearer {token}",
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["result"]
