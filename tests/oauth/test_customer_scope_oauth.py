"""A customer-restricted operator through the real OAuth flow (register, sign in, consent,
redeem): the access token carries the operator's customer limit, and a change of the limit, or
its lifting, applies to the grants that exist once the auth cache lets go of them."""
from __future__ import annotations

from datetime import UTC, datetime

from vectis.demo.seed import seed_tenant

from ..test_read_tools import walk
from .flow import EMAIL, refresh, register, signed_in, tokens


class Bearer:
    """What walk() needs of a tenant: the MCP endpoint and a token."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token


async def customers_seen(http, server, token: str) -> set[str]:
    return {c["id"] for c in await walk(http, Bearer(server.url("acme", "/api/mcp"), token), "list_customers")}


async def test_an_oauth_grant_carries_and_follows_the_users_customer_limit(live_server, http):
    storage = live_server.storage
    await seed_tenant(storage, "acme", "Acme IT", passwords={}, customers=4, tickets_per_customer=1,
                      now=datetime.now(UTC))
    everyone = set(await storage.db.tenant("acme")["customers"].distinct("_id", {}))
    first, second, third, _ = sorted(everyone)
    async with signed_in(live_server, "acme", EMAIL, "technician") as browser:
        user = await storage.users.by_email("acme", EMAIL)
        await storage.users.set_customers("acme", user["_id"], frozenset([first]))
        client = await register(http, live_server)
        issued = await tokens(http, live_server, browser, client)
    access = issued["access_token"]
    assert await customers_seen(http, live_server, access) == {first}

    forget = live_server.services.authenticator.forget
    # Changed: the existing grant follows, once the cache is dropped (here at once).
    await storage.users.set_customers("acme", user["_id"], frozenset([second, third]))
    forget("acme")
    assert await customers_seen(http, live_server, access) == {second, third}
    # A refreshed token of the same grant is limited alike.
    renewed = await refresh(http, live_server, client, issued["refresh_token"])
    assert renewed.status == 200, renewed
    assert await customers_seen(http, live_server, renewed.body["access_token"]) == {second, third}
    # Limited to nothing: sees nothing, and another customer's record is not found.
    await storage.users.set_customers("acme", user["_id"], frozenset())
    forget("acme")
    assert await customers_seen(http, live_server, renewed.body["access_token"]) == set()
    # Lifted: every customer of the tenant again.
    await storage.users.set_customers("acme", user["_id"], None)
    forget("acme")
    assert await customers_seen(http, live_server, renewed.body["access_token"]) == everyone
    grant = await storage.db.tenant("acme")["oauth_grants"].find_one({"client_id": client.client_id})
    assert grant is not None and grant.get("customers") is None   # the limit is the user's, not copied
