"""/metrics over real HTTP: what it counts, what it reads from the database, and who may see it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vectis import metrics as metrics_module

from .conftest import running_server
from .support.rpc import call_tool, rpc


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(parsed: dict, name: str, **labels) -> float | None:
    return parsed.get((name, frozenset(labels.items())))


async def scrape(http, server, headers: dict | None = None, port: int | None = None) -> tuple[int, str]:
    port = port or server.metrics_port
    async with http.get(f"http://127.0.0.1:{port}/metrics", headers=headers or {}) as resp:
        return resp.status, await resp.text()


@pytest.fixture(autouse=True)
def fresh_snapshot(monkeypatch):
    # The snapshot is re-read at most every 10 s; a test that changes the database reads it now.
    monkeypatch.setattr(metrics_module, "SNAPSHOT_SECONDS", 0.0)


async def test_tool_calls_are_counted_by_tool_and_status(acme, http):
    await call_tool(http, acme.url, acme.token, "list_customers", {})
    await call_tool(http, acme.url, acme.token, "get_customer", {"customer_id": "cus_nowhere"})
    status, body, _ = await rpc(http, acme.url, acme.token, "tools/call",
                                {"name": "no_such_tool", "arguments": {}})
    assert body["error"]["code"] == -32602
    status, text = await scrape(http, acme.server)
    assert status == 200
    parsed = samples(text)
    assert value(parsed, "vectis_tool_calls_total", tool="list_customers", status="success") == 1
    assert value(parsed, "vectis_tool_calls_total", tool="get_customer", status="error") == 1
    assert value(parsed, "vectis_tool_call_duration_seconds_count", tool="list_customers") == 1
    assert value(parsed, "vectis_mcp_requests_total", method="tools/call", outcome="ok") == 2
    assert value(parsed, "vectis_mcp_requests_total", method="tools/call",
                 outcome="invalid_params") == 1
    assert value(parsed, "vectis_mcp_request_duration_seconds_count", method="tools/call") == 3
    # An unknown tool name is not a label: callers cannot create series.
    assert not any(("tool", "no_such_tool") in labels for _, labels in parsed)
    assert value(parsed, "vectis_http_requests_total", handler="McpHandler", code="200") == 3


async def test_unknown_methods_share_one_label(acme, http):
    for method in ("made/up", "another/one"):
        await rpc(http, acme.url, acme.token, method, {})
    parsed = samples((await scrape(http, acme.server))[1])
    assert value(parsed, "vectis_mcp_requests_total", method="other",
                 outcome="method_not_found") == 2


async def test_rate_limit_denials_are_counted_by_limit(acme, http):
    await acme.server.storage.tenants.set_rate_limits(acme.slug, {"credential_read": 1}, reset=False)
    acme.server.services.tenants.forget(acme.slug)
    await call_tool(http, acme.url, acme.token, "list_customers", {})
    _, body, headers = await rpc(http, acme.url, acme.token, "tools/call",
                                 {"name": "list_customers", "arguments": {}})
    assert body["error"]["code"] == -32002
    parsed = samples((await scrape(http, acme.server))[1])
    assert value(parsed, "vectis_rate_limit_denials_total", scope="credential read") == 1
    assert value(parsed, "vectis_tool_calls_total", tool="list_customers", status="rate_limited") == 1
    assert value(parsed, "vectis_mcp_requests_total", method="tools/call", outcome="rate_limited") == 1


async def test_sync_lag_and_rule_backlog_come_from_the_database(acme, http):
    storage = acme.server.storage
    synced = datetime.now(UTC) - timedelta(minutes=10)
    db = storage.db.tenant(acme.slug)
    await db["sources"].insert_many([
        {"_id": "src_psa", "kind": "psa", "vendor": "connectwise", "status": "connected",
         "last_sync_at": synced, "sync_failures": 0},
        {"_id": "src_rmm", "kind": "rmm", "vendor": "ninjaone", "status": "error",
         "last_sync_at": None, "sync_failures": 3}])
    await db["rule_executions"].insert_many([
        {"_id": "rex_1", "status": "queued", "created_at": synced},
        {"_id": "rex_2", "status": "running", "created_at": synced},
        {"_id": "rex_3", "status": "dead_letter", "created_at": synced},
        {"_id": "rex_4", "status": "succeeded", "created_at": synced}])
    parsed = samples((await scrape(http, acme.server))[1])
    psa = {"tenant": "acme", "source": "src_psa", "vendor": "connectwise"}
    rmm = {"tenant": "acme", "source": "src_rmm", "vendor": "ninjaone"}
    assert value(parsed, "vectis_database_up") == 1
    assert 599 <= value(parsed, "vectis_sync_lag_seconds", **psa) < 700
    assert value(parsed, "vectis_sync_last_success_timestamp_seconds", **psa) == pytest.approx(
        synced.timestamp(), abs=0.01)
    assert value(parsed, "vectis_sync_lag_seconds", **rmm) is None   # never synced: no lag
    assert value(parsed, "vectis_sync_last_success_timestamp_seconds", **rmm) == 0
    assert value(parsed, "vectis_sync_consecutive_failures", **rmm) == 3
    assert value(parsed, "vectis_rule_queue_depth", tenant="acme") == 2
    assert value(parsed, "vectis_rule_dead_letters", tenant="acme") == 1


async def test_every_tenants_sources_keep_their_own_tenant_label(acme, http):
    """Tenants are read concurrently: each source and backlog must still land under its tenant."""
    storage = acme.server.storage
    slugs = [f"t{i:02d}" for i in range(20)]
    for i, slug in enumerate(slugs):
        await storage.tenants.create(slug, f"Tenant {i}")
        db = storage.db.tenant(slug)
        await db["sources"].insert_one({"_id": f"src_{slug}", "kind": "psa", "vendor": "halopsa",
                                        "status": "connected", "sync_failures": i})
        for n in range(i):
            await db["rule_executions"].insert_one({"_id": f"rex_{n}", "status": "queued"})
    parsed = samples((await scrape(http, acme.server))[1])
    for i, slug in enumerate(slugs):
        labels = {"tenant": slug, "source": f"src_{slug}", "vendor": "halopsa"}
        assert value(parsed, "vectis_sync_consecutive_failures", **labels) == i
        assert value(parsed, "vectis_rule_queue_depth", tenant=slug) == i
    assert [k for k in parsed if k[0] == "vectis_sync_consecutive_failures"
            and dict(k[1])["source"] != f"src_{dict(k[1])['tenant']}"] == []


async def test_a_snapshot_past_its_bound_is_not_a_database_outage(acme, http, monkeypatch):
    await acme.server.storage.db.tenant(acme.slug)["sources"].insert_one(
        {"_id": "src_psa", "kind": "psa", "vendor": "halopsa", "status": "connected"})
    monkeypatch.setattr(metrics_module, "SNAPSHOT_TIMEOUT_SECONDS", 0.0)   # no read can finish
    parsed = samples((await scrape(http, acme.server))[1])
    assert value(parsed, "vectis_database_up") == 1
    assert value(parsed, "vectis_metrics_snapshot_duration_seconds") is not None
    assert [k for k in parsed if k[0].startswith("vectis_sync_")] == []   # left out, not stale
    monkeypatch.setattr(metrics_module, "SNAPSHOT_TIMEOUT_SECONDS", 5.0)
    parsed = samples((await scrape(http, acme.server))[1])
    assert value(parsed, "vectis_sync_consecutive_failures", tenant="acme", source="src_psa",
                 vendor="halopsa") == 0


async def test_the_snapshot_is_shared_between_scrapes(acme, http, monkeypatch):
    """A tight scrape interval (or several scrapers) reads the database once per period."""
    monkeypatch.setattr(metrics_module, "SNAPSHOT_SECONDS", 3600.0)
    reads = 0
    snapshot = acme.server.services.metrics.snapshot
    original = snapshot._read

    async def counting():
        nonlocal reads
        reads += 1
        return await original()
    monkeypatch.setattr(snapshot, "_read", counting)
    for _ in range(3):
        assert (await scrape(http, acme.server))[0] == 200
    assert reads <= 1


@pytest.mark.parametrize("headers", [{"X-Forwarded-For": "203.0.113.9"},
                                     {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}])
async def test_a_proxied_request_is_refused(live_server, http, headers):
    status, text = await scrape(http, live_server, headers)
    assert status == 404 and "vectis_" not in text


async def test_peers_outside_the_allowed_networks_are_refused(tmp_path, mongo_uri, db_prefix,
                                                              storage, http):
    async with running_server(tmp_path, mongo_uri, db_prefix, storage,
                              metrics_allow_networks="10.0.0.0/8") as server:
        status, text = await scrape(http, server)
        assert status == 404 and "vectis_" not in text


async def test_the_application_port_never_serves_metrics(live_server, http):
    """A reverse proxy forwards the application's port, from loopback and maybe without any
    forwarding header: whatever reaches it, /metrics there is an unknown path."""
    for host in ("127.0.0.1", f"acme.localhost:{live_server.port}", "localhost"):
        status, text = await scrape(http, live_server, {"Host": host}, port=live_server.port)
        assert status == 404 and "vectis_" not in text
    assert (await scrape(http, live_server))[0] == 200          # its own listener does


async def test_the_metrics_listener_serves_nothing_else(live_server, http):
    for path in ("/", "/healthz", "/api/mcp", "/signin", "/.well-known/oauth-protected-resource"):
        async with http.get(f"http://127.0.0.1:{live_server.metrics_port}{path}") as resp:
            assert resp.status == 404, path


async def test_without_a_metrics_port_there_are_no_metrics(tmp_path, mongo_uri, db_prefix, storage, http):
    async with running_server(tmp_path, mongo_uri, db_prefix, storage, metrics_port=0) as server:
        assert server.metrics_port == 0
        assert (await scrape(http, server, port=server.port))[0] == 404


async def test_a_configured_token_is_required(tmp_path, mongo_uri, db_prefix, storage, http):
    secret = "metrics-scrape-secret-0123456789"
    async with running_server(tmp_path, mongo_uri, db_prefix, storage,
                              metrics_token=secret) as server:
        assert (await scrape(http, server))[0] == 404
        assert (await scrape(http, server, {"Authorization": "Bearer wrong"}))[0] == 404
        status, text = await scrape(http, server, {"Authorization": f"Bearer {secret}"})
        assert status == 200 and "vectis_http_requests_total" in text


async def test_the_token_is_redacted_in_the_printed_configuration(tmp_path, mongo_uri, db_prefix):
    from .conftest import make_config
    config = make_config(tmp_path, mongo_uri, db_prefix, metrics_token="metrics-scrape-secret-xyz")
    assert "metrics-scrape-secret-xyz" not in repr(config.redacted())


@pytest.mark.slow
def test_the_server_process_opens_its_metrics_listener_and_closes_it_on_stop(tmp_path):
    import urllib.error
    import urllib.request

    from .support.processes import ServerProcess, clean_env, free_port
    metrics_port = free_port()
    server = ServerProcess("--data-dir", str(tmp_path / "data"), "--no-demo",
                           env=clean_env(VECTIS_METRICS_PORT=str(metrics_port))).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
            assert resp.status == 200 and b"vectis_database_up 1.0" in resp.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert err.value.code == 404
    finally:
        assert server.stop() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
