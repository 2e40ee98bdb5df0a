"""Per-source vendor settings from the command line: `admin list-sources` shows them, `admin
connect-source --setting` changes them without touching the credentials, and the connector built
for the source uses them. Bad input is refused and changes nothing."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from vectis.config import decode_key
from vectis.demo.seed import seed_tenant
from vectis.vendors.connections import Connections
from vectis.vendors.connectwise.connector import CONNECTOR
from vectis.vendors.http import VendorHttp

from ..support.processes import clean_env, run_cli


async def test_settings_are_listed_set_used_and_reset(live_server, mongo_uri, db_prefix, tmp_path):
    storage = live_server.storage
    await seed_tenant(storage, "settings", "Settings", passwords={}, customers=1,
                      tickets_per_customer=1, now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                    VECTIS_DATA_DIR=str(tmp_path / "data"))

    def cli(*args, stdin=None):
        return run_cli("admin", *args, env=env, stdin=stdin)

    def listed() -> dict:
        out = cli("list-sources", "settings", "--json")
        assert out.returncode == 0, out.stderr
        return {s["vendor"]: s for s in json.loads(out.stdout)}

    source = listed()["connectwise"]
    assert CONNECTOR.settings, "ConnectWise declares its closing status and board as settings"
    setting = CONNECTOR.settings[0]
    shown = source["settings"][setting.name]
    assert shown == {"value": setting.default, "default": setting.default, "set": False,
                     "help": setting.help}
    # A connected source, so the connector can be built from what is stored.
    connections = Connections(storage, decode_key(live_server.config.encryption_key), VendorHttp())
    creds = {"company_id": "c", "public_key": "p", "private_key": "secret-key", "client_id": "i"}
    done = cli("connect-source", "settings", source["id"], "--base-url", "https://cw.example/v4_6_release/apis/3.0",
               "--credentials-stdin", stdin=json.dumps(creds))
    assert done.returncode == 0, done.stderr
    before = await storage.sources.get("settings", source["id"], with_credentials=True)

    value = "7" if setting.kind is int else "Resolved by tech"
    changed = cli("connect-source", "settings", source["id"], "--setting", f"{setting.name}={value}")
    assert changed.returncode == 0, changed.stderr
    after = await storage.sources.get("settings", source["id"], with_credentials=True)
    assert after["credentials_encrypted"] == before["credentials_encrypted"]
    assert listed()["connectwise"]["settings"][setting.name]["set"] is True
    _, connector = await connections.connector("settings", source["id"])
    assert connector.setting(setting.name) == setting.parse(value)
    text = cli("list-sources", "settings")
    assert f"{setting.name}={setting.parse(value)}" in text.stdout

    unknown = cli("connect-source", "settings", source["id"], "--setting", "no_such_thing=1")
    assert unknown.returncode == 1 and "connectwise has no setting 'no_such_thing'" in unknown.stderr
    assert setting.name in unknown.stderr                       # the message lists the real ones
    malformed = cli("connect-source", "settings", source["id"], "--setting", "just-a-name")
    assert malformed.returncode == 1 and "NAME=VALUE" in malformed.stderr
    nothing = cli("connect-source", "settings", source["id"])
    assert nothing.returncode == 1 and "--setting" in nothing.stderr
    assert (await storage.sources.get("settings", source["id"]))["settings"] == after["settings"]

    reset = cli("connect-source", "settings", source["id"], "--setting", f"{setting.name}=")
    assert reset.returncode == 0, reset.stderr
    assert listed()["connectwise"]["settings"][setting.name]["set"] is False
    _, connector = await connections.connector("settings", source["id"])
    assert connector.setting(setting.name) == setting.default
    await connections.http.close()
