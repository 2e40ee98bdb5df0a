"""The credential and tenant caches on the hot path, against the real database: the requests in
flight when an entry expires share one lookup, and a lookup that overlapped a revocation in this
process is never cached."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo import MongoClient, monitoring

from vectis.auth.bearer import BearerAuthenticator, InvalidCredential
from vectis.storage import Storage, make_client
from vectis.tenancy import TenantResolver

from .conftest import tenant_of


class Finds(monitoring.CommandListener):
    def __init__(self):
        self.collections: list[str] = []
        self.on_success = None
        self._requests: dict[int, str] = {}

    def started(self, event):
        if event.command_name == "find":
            self.collections.append(event.command["find"])
            self._requests[event.request_id] = event.command["find"]

    def succeeded(self, event):
        collection = self._requests.pop(event.request_id, None)
        if collection and self.on_success:
            self.on_success(collection)

    def failed(self, event):
        pass


@pytest.fixture
async def watched(mongo_uri, db_prefix):
    finds = Finds()
    storage = Storage(make_client(mongo_uri, event_listeners=[finds]), db_prefix)
    yield storage, finds
    await storage.close()


async def test_concurrent_misses_of_one_token_share_one_lookup(acme, watched):
    storage, finds = watched
    services = acme.server.services
    auth = BearerAuthenticator(storage, services.config.token_pepper, 60, services.signing_keys)
    tenant = await tenant_of(services, "acme")
    principals = await asyncio.gather(*(auth.authenticate(tenant, f"Bearer {acme.token}") for _ in range(16)))
    assert {p.email for p in principals} == {acme.admin_email}
    assert sorted(finds.collections) == ["pats", "users"]


async def test_concurrent_misses_of_one_host_share_one_lookup(acme, watched):
    storage, finds = watched
    resolver = TenantResolver(storage, acme.server.config)
    host = f"acme.{acme.server.config.base_domain}"
    tenants = await asyncio.gather(*(resolver.resolve(host) for _ in range(16)))
    assert {t.slug for t in tenants} == {"acme"}
    assert finds.collections == ["tenants"]


async def test_a_lookup_that_overlapped_a_revocation_is_not_cached(acme, watched, mongo_uri):
    storage, finds = watched
    services = acme.server.services
    auth = BearerAuthenticator(storage, services.config.token_pepper, 60, services.signing_keys)
    tenant = await tenant_of(services, "acme")
    header = f"Bearer {acme.token}"
    pats = MongoClient(mongo_uri)[storage.db.tenant("acme").name]["pats"]

    def revoke_meanwhile(collection: str) -> None:
        # Between the lookup's read of the token (live) and its end: revoked, then forgotten,
        # as the token page does. Synchronous, so nothing else runs in between.
        if collection == "pats":
            finds.on_success = None
            pats.update_many({}, {"$set": {"revoked_at": datetime.now(UTC)}})
            auth.forget("acme")

    finds.on_success = revoke_meanwhile
    try:
        first = await auth.authenticate(tenant, header)
    finally:
        pats.database.client.close()
    assert first.email == acme.admin_email   # it began before the revocation: it may pass
    with pytest.raises(InvalidCredential):
        await auth.authenticate(tenant, header)
