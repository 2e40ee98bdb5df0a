"""The control database's tenant registry."""
from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import Database, check_slug


class TenantExists(Exception):
    pass


class DomainTaken(Exception):
    pass


class TenantRepository:
    def __init__(self, db: Database):
        self._db = db

    @property
    def _tenants(self):
        return self._db.control["tenants"]

    async def create(self, slug: str, name: str, custom_domain: str | None = None) -> dict:
        check_slug(slug)
        doc = {
            "_id": slug, "name": name, "status": "active",
            "custom_domain": custom_domain.lower() if custom_domain else None,
            "settings": {}, "created_at": datetime.now(UTC),
        }
        # Indexes first: a tenant is only visible once its database can serve queries correctly.
        await self._db.ensure_tenant_indexes(slug)
        try:
            await self._tenants.insert_one(doc)
        except DuplicateKeyError as exc:
            if "custom_domain" in str(exc):
                raise DomainTaken(custom_domain) from None
            raise TenantExists(slug) from None
        return doc

    async def ensure(self, slug: str, name: str) -> bool:
        """Create the tenant unless it exists; True when it was created now."""
        await self._db.ensure_tenant_indexes(check_slug(slug))
        result = await self._tenants.update_one(
            {"_id": slug},
            {"$setOnInsert": {"name": name, "status": "active", "custom_domain": None,
                              "settings": {}, "created_at": datetime.now(UTC)}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def get(self, slug: str) -> dict | None:
        return await self._tenants.find_one({"_id": slug})

    async def by_custom_domain(self, domain: str) -> dict | None:
        return await self._tenants.find_one({"custom_domain": domain})

    async def list(self) -> list[dict]:
        return await self._tenants.find({}).sort("_id", 1).to_list()

    async def set_status(self, slug: str, status: str) -> bool:
        if status not in ("active", "disabled"):
            raise ValueError("status must be active or disabled")
        result = await self._tenants.update_one({"_id": slug}, {"$set": {"status": status}})
        return result.matched_count == 1

    async def set_approval_policy(self, slug: str, policy: str) -> dict | None:
        """Which writes wait for a person (vectis.approvals.policy); checked by the caller."""
        return await self._tenants.find_one_and_update(
            {"_id": slug}, {"$set": {"settings.approval_policy": policy}}, return_document=ReturnDocument.AFTER)

    async def set_rate_limits(self, slug: str, limits: dict[str, int], reset: bool = False) -> dict | None:
        """Override some of the tenant's rate limits (calls per minute); reset drops every override."""
        update: dict = {"$unset": {"settings.rate_limits": ""}} if reset else {
            "$set": {f"settings.rate_limits.{k}": v for k, v in limits.items()}}
        if not reset and not limits:
            return await self.get(slug)
        return await self._tenants.find_one_and_update({"_id": slug}, update, return_document=ReturnDocument.AFTER)

