"""The admin CLI end to end, as an operator runs it: a real process against a real database."""
import json
import re

import pytest

from vectis.credentials.passwords import verify_password
from vectis.credentials.pats import PAT_RE, hash_token

from .support.processes import ServerProcess, clean_env, run_cli


@pytest.fixture
def cli(tmp_path, mongo_uri, db_prefix, storage):
    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                    VECTIS_DATA_DIR=str(tmp_path / "data"))

    def run(*args, stdin=None):
        return run_cli("admin", *args, stdin=stdin, env=env)
    return run


async def test_tenant_user_and_token_lifecycle(cli, storage, tmp_path):
    assert cli("create-tenant", "acme", "--name", "Acme IT").returncode == 0
    created = cli("create-user", "acme", "Alex@Acme.example", "--role", "technician", "--password-stdin",
                  stdin="correct horse battery\n")
    assert created.returncode == 0, created.stderr
    user = await storage.users.by_email("acme", "alex@acme.example")
    assert user["role"] == "technician"
    assert user["password_hash"].startswith("$argon2id$")
    assert verify_password(user["password_hash"], "correct horse battery")

    issued = cli("issue-token", "acme", "alex@acme.example", "--scopes", "read:tickets,write:tickets",
                 "--label", "laptop")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert PAT_RE.match(token) and issued.stdout == token + "\n"   # only the token is printed

    pepper = json.loads((tmp_path / "data" / "secrets.json").read_text())["token_pepper"]
    pats = await storage.db.tenant("acme")["pats"].find({}).to_list()
    assert len(pats) == 1
    pat = pats[0]
    assert pat["token_hash"] == hash_token(pepper, token)
    assert token not in json.dumps(pat, default=str)
    assert pat["scopes"] == ["read:tickets", "write:tickets"] and pat["label"] == "laptop"
    assert pat["prefix"] == token[:12] and pat["revoked_at"] is None

    revoked = cli("revoke-token", "acme", "--token-stdin", stdin=token + "\n")
    assert revoked.returncode == 0 and pat["_id"] in revoked.stdout
    assert (await storage.pats.by_hash("acme", pat["token_hash"]))["revoked_at"] is not None
    again = cli("revoke-token", "acme", "--id", pat["_id"])
    assert again.returncode == 1 and "no live token matched" in again.stderr


async def test_listing_tenants(cli):
    cli("create-tenant", "acme", "--name", "Acme IT")
    cli("create-tenant", "northwind", "--name", "Northwind", "--custom-domain", "mcp.northwind.example")
    listed = cli("list-tenants", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert [r["slug"] for r in rows] == ["acme", "northwind"]
    assert rows[1]["custom_domain"] == "mcp.northwind.example"
    assert rows[0]["origin"] == "http://acme.localhost:8080"
    assert re.search(r"^acme\s+active\s+http://acme.localhost:8080\s+Acme IT$", cli("list-tenants").stdout, re.M)


@pytest.mark.parametrize("args, stdin, message", [
    (("create-tenant", "Bad_Slug", "--name", "x"), None, "invalid tenant slug"),
    (("create-tenant", "acme", "--name", "again"), None, "tenant 'acme' already exists"),
    (("create-user", "nosuch", "a@b.example", "--role", "admin", "--password-stdin"), "long enough pw\n", "no tenant 'nosuch'"),
    (("create-user", "acme", "a@b.example", "--role", "admin", "--password-stdin"), "short\n", "at least 12 characters"),
    (("create-user", "acme", "not-an-email", "--role", "admin", "--password-stdin"), "long enough pw\n", "invalid e-mail"),
    (("create-user", "acme", "a@b.example", "--role", "admin"), None, "--password-stdin"),
    (("issue-token", "acme", "nobody@b.example", "--scopes", "read:tickets", "--label", "x"), None, "no active user"),
    (("issue-token", "acme", "ro@acme.example", "--scopes", "read:tickets,write:tickets", "--label", "x"), None, "role readonly cannot hold: write:tickets"),
    (("issue-token", "acme", "ro@acme.example", "--scopes", "read:everything", "--label", "x"), None, "unknown scope(s): read:everything"),
    (("issue-token", "acme", "ro@acme.example", "--scopes", "read:tickets", "--label", "x", "--expires-days", "0"), None, "--expires-days"),
    (("revoke-token", "acme", "--prefix", "vct_pat_zzzz"), None, "no live token matched"),
])
async def test_bad_input_is_refused_and_changes_nothing(cli, storage, args, stdin, message):
    assert cli("create-tenant", "acme", "--name", "Acme IT").returncode == 0
    assert cli("create-user", "acme", "ro@acme.example", "--role", "readonly", "--password-stdin",
               stdin="read only password\n").returncode == 0
    before = {c: await storage.bulk.count("acme", c) for c in ("users", "pats")}
    tenants_before = len(await storage.tenants.list())
    result = cli(*args, stdin=stdin)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert {c: await storage.bulk.count("acme", c) for c in ("users", "pats")} == before
    assert len(await storage.tenants.list()) == tenants_before


def test_unreachable_database_is_a_clear_error(tmp_path):
    from .support.processes import free_port
    env = clean_env(VECTIS_MONGO_URI=f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300",
                    VECTIS_DATA_DIR=str(tmp_path))
    result = run_cli("admin", "list-tenants", env=env)
    assert result.returncode == 1
    assert "the database did not answer" in result.stderr and "Traceback" not in result.stderr


def test_configuration_flags_stand_on_either_side_of_the_command(tmp_path, mongo_uri, db_prefix):
    # No database in the environment: only the flags say where it is.
    env = clean_env(VECTIS_DB_PREFIX=db_prefix)
    flags = ["--mongo-uri", mongo_uri, "--data-dir", str(tmp_path / "data")]
    created = run_cli("admin", "create-tenant", "acme", "--name", "Acme IT", *flags, env=env)
    assert created.returncode == 0, created.stderr

    def listed(*args):
        result = run_cli(*args, env=env)
        assert result.returncode == 0, result.stderr
        return [t["slug"] for t in json.loads(result.stdout)]
    assert listed("admin", "list-tenants", "--json", *flags) == ["acme"]            # after the command
    assert listed("admin", *flags, "list-tenants", "--json") == ["acme"]            # between
    assert listed(*flags, "admin", "list-tenants", "--json") == ["acme"]            # before admin
    assert listed("admin", "--mongo-uri", mongo_uri, "list-tenants", "--data-dir",  # split
                  str(tmp_path / "data"), "--json") == ["acme"]
    # Given twice, the one after the command wins.
    from .support.processes import free_port
    dead = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"
    assert listed("admin", "--mongo-uri", dead, "list-tenants", "--json", *flags) == ["acme"]
    refused = run_cli("admin", *flags, "list-tenants", "--mongo-uri", dead, env=env)
    assert refused.returncode == 1 and "the database did not answer" in refused.stderr
    # What is not a configuration flag is still refused, wherever it stands.
    bogus = run_cli("admin", "list-tenants", "--bogus", *flags, env=env)
    assert bogus.returncode == 2 and "unrecognized arguments: --bogus" in bogus.stderr
    assert "--data-dir" in run_cli("admin", "list-tenants", "--help", env=env).stdout


@pytest.mark.slow
def test_cli_uses_the_embedded_database_of_a_running_server(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    try:
        assert run_cli("admin", "--data-dir", str(data), "create-tenant", "acme", "--name", "Acme").returncode == 0
        import urllib.request
        # The running server sees the tenant the CLI created, within its cache bound.
        req = urllib.request.Request(f"http://127.0.0.1:{server.port}/", headers={"Host": f"acme.localhost:{server.port}"})
        import time
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(req, timeout=2) as resp:
                    assert json.loads(resp.read())["tenant"] == "acme"
                    break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        assert server.stop() == 0
    # With no server running, the CLI starts the embedded database itself, then stops it.
    listed = run_cli("admin", "--data-dir", str(data), "list-tenants", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [t["slug"] for t in json.loads(listed.stdout)] == ["acme"]
    assert not (data / "embedded-db.json").exists()


async def test_per_tenant_rate_limits(cli, storage):
    cli("create-tenant", "acme", "--name", "Acme IT")
    result = cli("set-rate-limits", "acme", "--credential-read", "100", "--tenant-write", "5")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"credential_read": 100, "credential_write": 60,
                                         "tenant_read": 6000, "tenant_write": 5}
    assert (await storage.tenants.get("acme"))["settings"]["rate_limits"] == {"credential_read": 100, "tenant_write": 5}
    assert cli("set-rate-limits", "acme", "--credential-read", "-1").returncode == 1
    reset = cli("set-rate-limits", "acme", "--reset")
    assert json.loads(reset.stdout)["credential_read"] == 600


RULE = {"name": "Escalate critical alerts",
        "trigger": {"event": "alert.created",
                    "conditions": [{"field": "alert.severity", "op": "eq", "value": "critical"}]},
        "actions": [{"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}}]}


async def test_rules_export_and_import_round_trip_all_or_nothing(cli, storage):
    cli("create-tenant", "acme", "--name", "Acme IT")
    cli("create-user", "acme", "tech@acme.example", "--role", "technician", "--password-stdin",
        stdin="correct horse battery\n")
    cli("create-user", "acme", "ro@acme.example", "--role", "readonly", "--password-stdin",
        stdin="correct horse battery\n")
    no_owner = cli("rules-import", "acme", stdin=json.dumps([RULE]))
    assert no_owner.returncode != 0 and "--owner EMAIL is required" in no_owner.stderr
    readonly = cli("rules-import", "acme", "--owner", "ro@acme.example", stdin=json.dumps([RULE]))
    assert readonly.returncode != 0 and "a rule owner must be" in readonly.stderr
    imported = cli("rules-import", "acme", "--owner", "tech@acme.example", stdin=json.dumps([RULE]))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {"inserted": 1, "replaced": 0}

    exported = json.loads(cli("rules-export", "acme").stdout)
    assert len(exported) == 1 and exported[0]["id"].startswith("rul_")
    assert exported[0]["name"] == RULE["name"] and exported[0]["enabled"] is True
    # Edit and re-import: the rule is replaced by id (even renamed), keeping its owner.
    exported[0].update(name="Escalate critical alerts (renamed)", enabled=False, cooldown_seconds=60)
    replaced = cli("rules-import", "acme", stdin=json.dumps(exported))
    assert json.loads(replaced.stdout) == {"inserted": 0, "replaced": 1}, replaced.stderr
    [stored] = await storage.rules.all("acme")
    tech = await storage.users.by_email("acme", "tech@acme.example")
    assert stored["_id"] == exported[0]["id"] and stored["owner_user_id"] == tech["_id"]
    assert stored["enabled"] is False and stored["cooldown_seconds"] == 60

    # One bad rule among good ones: every problem reported, nothing written.
    bad = [{**RULE, "name": "new and fine"},
           {**RULE, "name": "bad", "actions": [{"verb": "delete_everything", "params": {}}]},
           {**RULE, "name": "bad regex", "trigger": {"event": "alert.created", "conditions": [
               {"field": "alert.title", "op": "matches", "value": r"(\w+) \1"}]}}]
    refused = cli("rules-import", "acme", "--owner", "tech@acme.example", stdin=json.dumps(bad))
    assert refused.returncode != 0 and "nothing imported" in refused.stderr
    assert "rule 1 ('bad')" in refused.stderr and "rule 2 ('bad regex')" in refused.stderr
    assert "backreferences" in refused.stderr
    assert [r["name"] for r in await storage.rules.all("acme")] == ["Escalate critical alerts (renamed)"]
    not_json = cli("rules-import", "acme", stdin="{not json")
    assert not_json.returncode != 0 and "JSON array" in not_json.stderr
