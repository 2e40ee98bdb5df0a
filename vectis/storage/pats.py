"""Personal access tokens, stored only as keyed hashes."""
from __future__ import annotations

from datetime import UTC, datetime

from ..customer_scope import stored
from ..ids import new_id
from .core import Database


class PatRepository:
    def __init__(self, db: Database):
        self._db = db

    def _pats(self, slug: str):
        return self._db.tenant(slug)["pats"]

    async def insert(self, slug: str, *, token_hash: str, prefix: str, label: str,
                     scopes: tuple[str, ...], user_id: str, expires_at: datetime | None,
                     customers: frozenset[str] | None = None, approval_policy: str | None = None) -> dict:
        doc = {
            "_id": new_id("pat"), "token_hash": token_hash, "prefix": prefix, "label": label,
            "scopes": list(scopes), "user_id": user_id, "created_at": datetime.now(UTC),
            "last_used_at": None, "expires_at": expires_at, "revoked_at": None,
            "elevated_until": None,
            # None: the user's customers; else narrowed to these (never wider: credentials.issue).
            "customers": stored(customers),
            # None: the tenant's approval policy; else the stricter of the two (approvals.policy).
            "approval_policy": approval_policy,
        }
        await self._pats(slug).insert_one(doc)
        return doc

    async def by_hash(self, slug: str, token_hash: str) -> dict | None:
        return await self._pats(slug).find_one({"token_hash": token_hash})

    async def for_user(self, slug: str, user_id: str) -> list[dict]:
        return await self._pats(slug).find({"user_id": user_id}, {"token_hash": 0}).sort(
            "created_at", -1).to_list()

    async def revoke(self, slug: str, *, pat_id: str | None = None, token_hash: str | None = None,
                     prefix: str | None = None) -> list[str]:
        """Revoke live tokens matching exactly one selector; return the ids revoked."""
        selectors = {k: v for k, v in (("_id", pat_id), ("token_hash", token_hash),
                                        ("prefix", prefix)) if v}
        if len(selectors) != 1:
            raise ValueError("name exactly one of pat_id, token_hash, prefix")
        query = {**selectors, "revoked_at": None}
        ids = [d["_id"] for d in await self._pats(slug).find(query, {"_id": 1}).to_list()]
        if ids:
            await self._pats(slug).update_many(
                {"_id": {"$in": ids}, "revoked_at": None},
                {"$set": {"revoked_at": datetime.now(UTC)}})
        return ids

    async def touch(self, slug: str, pat_id: str, when: datetime, client: str | None = None) -> None:
        changes = {"last_used_at": when}
        if client:
            changes["last_used_client"] = client
        await self._pats(slug).update_one({"_id": pat_id}, {"$set": changes})

    async def elevate(self, slug: str, pat_id: str, user_id: str, until: datetime) -> bool:
        """Set elevated_until on a live token of this user; False when there is none."""
        now = datetime.now(UTC)
        result = await self._pats(slug).update_one(
            {"_id": pat_id, "user_id": user_id, "revoked_at": None,
             "$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]},
            {"$set": {"elevated_until": until}})
        return result.matched_count == 1
