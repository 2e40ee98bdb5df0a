"""Per-tenant signing keys: created on first use, stored encrypted, rotated by the admin CLI
without breaking tokens signed before (they verify until they expire)."""
from __future__ import annotations

import jwt

from vectis.oauth import access_tokens

from ..conftest import tenant_of
from ..support.processes import clean_env, run_cli


async def test_rotation_keeps_earlier_tokens_valid(live_server, acme, mongo_uri, db_prefix, tmp_path):
    services = live_server.services
    tenant = await tenant_of(services, "acme")
    old_kid = (await services.signing_keys.active("acme")).kid
    token, lifetime = await access_tokens.mint(services.signing_keys, tenant, user_id="usr_x",
                                               grant_id="gra_x", client_id="vcl_x",
                                               scopes=("read:customers",))
    assert lifetime <= 3600 and jwt.get_unverified_header(token)["kid"] == old_kid
    stored = await live_server.storage.db.tenant("acme")["oauth_keys"].find_one({"_id": old_kid})
    assert "PRIVATE" not in str(stored) and stored["private_encrypted"].startswith("v1:")

    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                    VECTIS_DATA_DIR=str(tmp_path / "data"))
    result = run_cli("admin", "rotate-signing-key", "acme", env=env)
    assert result.returncode == 0, result.stderr
    new_kid = result.stdout.strip()
    assert new_kid.startswith("key_") and new_kid != old_kid

    services.signing_keys.forget("acme")          # what the cache expiry does in every process
    assert (await services.signing_keys.active("acme")).kid == new_kid
    claims = await access_tokens.verify(services.signing_keys, tenant, token)
    assert claims is not None and claims.grant_id == "gra_x"
    retired = await live_server.storage.db.tenant("acme")["oauth_keys"].find_one({"_id": old_kid})
    assert retired["retired_at"] is not None and retired["private_encrypted"] is None

    northwind = run_cli("admin", "rotate-signing-key", "nosuchtenant", env=env)
    assert northwind.returncode == 1 and "no tenant" in northwind.stderr


async def test_a_token_of_one_tenant_never_verifies_at_another(live_server, acme):
    services = live_server.services
    await services.storage.tenants.create("northwind", "Northwind")
    acme_tenant = await tenant_of(services, "acme")
    northwind = await tenant_of(services, "northwind")
    token, _ = await access_tokens.mint(services.signing_keys, acme_tenant, user_id="usr_x",
                                        grant_id="gra_x", client_id="vcl_x", scopes=("read:customers",))
    assert await access_tokens.verify(services.signing_keys, northwind, token) is None
    # Even re-signed with northwind's own key, acme's audience and issuer are refused there.
    claims = jwt.decode(token, options={"verify_signature": False})
    key = await services.signing_keys.active("northwind")
    forged = jwt.encode(claims, key.private, algorithm="ES256",
                        headers={"kid": key.kid, "typ": "at+jwt"})
    assert await access_tokens.verify(services.signing_keys, northwind, forged) is None
