"""Authorization codes and grants. Every single-use step is one conditional update, so two
concurrent requests can never both succeed (anchors.md §1.2: no check-then-act).

A grant is one user's approval of one client; its refresh token and every access token hang off
it, so revoking the grant revokes them all. Codes, refresh tokens and client secrets are stored
only as keyed hashes.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import Database

PLACEHOLDER_LIFETIME = timedelta(days=1)
RETIRED_KEPT = 20  # rotated refresh-token hashes remembered per grant, to detect reuse


class OAuthCodeRepository:
    def __init__(self, db: Database):
        self._db = db

    def _codes(self, slug: str):
        return self._db.tenant(slug)["oauth_codes"]

    async def insert(self, slug: str, doc: dict) -> None:
        await self._codes(slug).insert_one(doc)

    async def consume(self, slug: str, code_hash: str, *, client_id: str, redirect_uri: str,
                      code_challenge: str, now: datetime, grant_id: str) -> dict | None:
        """Mark the code used, naming the grant it will create, if and only if every binding
        matches; a failed attempt (wrong client, verifier or redirect) leaves it unconsumed."""
        return await self._codes(slug).find_one_and_update(
            {"_id": code_hash, "consumed_at": None, "client_id": client_id,
             "redirect_uri": redirect_uri, "code_challenge": code_challenge,
             "expires_at": {"$gt": now}},
            {"$set": {"consumed_at": now, "grant_id": grant_id}},
            return_document=ReturnDocument.AFTER)

    async def get(self, slug: str, code_hash: str) -> dict | None:
        return await self._codes(slug).find_one({"_id": code_hash})


class OAuthGrantRepository:
    def __init__(self, db: Database):
        self._db = db

    def _grants(self, slug: str):
        return self._db.tenant(slug)["oauth_grants"]

    async def insert(self, slug: str, doc: dict) -> bool:
        """False when the id was already taken: the code it came from was replayed first, and
        the replay recorded a revocation under this id."""
        try:
            await self._grants(slug).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, slug: str, grant_id: str) -> dict | None:
        return await self._grants(slug).find_one({"_id": grant_id})

    async def revoke(self, slug: str, grant_id: str, reason: str) -> None:
        """Revoke the grant; if it does not exist yet, leave a revoked placeholder so the insert
        that was about to create it fails."""
        now = datetime.now(UTC)
        await self._grants(slug).update_one(
            {"_id": grant_id},
            {"$set": {"revoked_at": now, "revoked_reason": reason},
             "$setOnInsert": {"placeholder": True, "expires_at": now + PLACEHOLDER_LIFETIME}},
            upsert=True)

    async def revoke_for_user(self, slug: str, grant_id: str, user_id: str) -> bool:
        result = await self._grants(slug).update_one(
            {"_id": grant_id, "user_id": user_id, "revoked_at": None},
            {"$set": {"revoked_at": datetime.now(UTC), "revoked_reason": "revoked by the user"}})
        return result.modified_count == 1

    async def by_refresh_hash(self, slug: str, token_hash: str) -> dict | None:
        return await self._grants(slug).find_one({"$or": [
            {"refresh.current": token_hash}, {"refresh.previous": token_hash},
            {"refresh.retired": token_hash}]})

    async def rotate(self, slug: str, grant_id: str, old_hash: str, new_hash: str, *,
                     pending: str, grace_until: datetime, expires_at: datetime,
                     now: datetime) -> dict | None:
        """Swap the current refresh token for a new one, atomically; None if `old_hash` is no
        longer current (another request rotated it first, or the grant died)."""
        return await self._grants(slug).find_one_and_update(
            {"_id": grant_id, "refresh.current": old_hash, "revoked_at": None,
             "expires_at": {"$gt": now}},
            {"$set": {"refresh.current": new_hash, "refresh.previous": old_hash,
                      "refresh.pending": pending, "refresh.grace_until": grace_until,
                      "refresh.rotated_at": now, "last_used_at": now, "expires_at": expires_at},
             "$push": {"refresh.retired": {"$each": [old_hash], "$slice": -RETIRED_KEPT}}},
            return_document=ReturnDocument.AFTER)

    async def touch(self, slug: str, grant_id: str, when: datetime) -> None:
        await self._grants(slug).update_one({"_id": grant_id}, {"$set": {"last_used_at": when}})

    async def for_user(self, slug: str, user_id: str) -> list[dict]:
        return await self._grants(slug).find(
            {"user_id": user_id, "revoked_at": None},
            {"refresh": 0}).sort("created_at", -1).to_list(200)

    async def elevate(self, slug: str, grant_id: str, user_id: str, until: datetime) -> bool:
        result = await self._grants(slug).update_one(
            {"_id": grant_id, "user_id": user_id, "revoked_at": None,
             "expires_at": {"$gt": datetime.now(UTC)}},
            {"$set": {"elevated_until": until}})
        return result.matched_count == 1
