"""`admin list-sources` and `admin connect-source`: how an operator points a source at its vendor.
Credentials arrive on standard input and are stored only encrypted."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from vectis.config import decode_key
from vectis.demo.seed import seed_tenant
from vectis.vendors.connections import Connections
from vectis.vendors.connectwise.simulator import ConnectWiseSimulator
from vectis.vendors.http import VendorHttp

from ..support.processes import clean_env, run_cli


async def test_connect_a_source_from_the_command_line(live_server, mongo_uri, db_prefix, tmp_path):
    storage = live_server.storage
    await seed_tenant(storage, "clitenant", "CLI", passwords={}, customers=2, tickets_per_customer=1,
                      now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                    VECTIS_DATA_DIR=str(tmp_path / "data"))   # the live server's secrets
    listed = run_cli("admin", "list-sources", "clitenant", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    sources = {s["vendor"]: s for s in json.loads(listed.stdout)}
    assert set(sources) == {"connectwise", "ninjaone", "datto_bcdr"}
    psa = sources["connectwise"]["id"]

    simulator = ConnectWiseSimulator()
    base = await simulator.start() + "/v4_6_release/apis/3.0"
    try:
        done = run_cli("admin", "connect-source", "clitenant", psa, "--base-url", base,
                       "--credentials-stdin", stdin=json.dumps(simulator.credentials), env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "connected"
        stored = await storage.sources.get("clitenant", psa, with_credentials=True)
        assert simulator.credentials["private_key"] not in json.dumps(stored, default=str)
        connections = Connections(storage, decode_key(live_server.config.encryption_key), VendorHttp())
        _, connector = await connections.connector("clitenant", psa)
        assert connector.credentials == simulator.credentials and connector.base_url == base
        await connections.http.close()
    finally:
        await simulator.stop()

    bad = run_cli("admin", "connect-source", "clitenant", psa, "--base-url", base,
                  "--credentials-stdin", stdin="not json", env=env)
    assert bad.returncode == 1 and "JSON" in bad.stderr
    unknown = run_cli("admin", "connect-source", "clitenant", "src_nosuchsource00000", "--base-url",
                      base, "--credentials-stdin", stdin="{}", env=env)
    assert unknown.returncode == 1 and "no source" in unknown.stderr
    after = await storage.sources.get("clitenant", psa, with_credentials=True)
    assert after["credentials_encrypted"] == stored["credentials_encrypted"]   # unchanged
