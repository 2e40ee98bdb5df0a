"""Operator web sessions, stored server-side; the browser holds only a random id.

Documents are keyed by the SHA-256 of the session id, so a database dump cannot be replayed as
cookies. A TTL index on expires_at reaps them; reads also check expiry, since the reaper lags.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from .core import Database


def session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionRepository:
    def __init__(self, db: Database):
        self._db = db

    def _sessions(self, slug: str):
        return self._db.tenant(slug)["sessions"]

    async def create(self, slug: str, session_id: str, *, user_id: str, password_marker: str,
                     lifetime: timedelta) -> dict:
        now = datetime.now(UTC)
        doc = {"_id": session_key(session_id), "user_id": user_id, "password_marker": password_marker,
               "created_at": now, "expires_at": now + lifetime, "last_seen_at": now}
        await self._sessions(slug).insert_one(doc)
        return doc

    async def get(self, slug: str, session_id: str) -> dict | None:
        return await self._sessions(slug).find_one(
            {"_id": session_key(session_id), "expires_at": {"$gt": datetime.now(UTC)}})

    async def touch(self, slug: str, session_id: str, when: datetime) -> None:
        await self._sessions(slug).update_one({"_id": session_key(session_id)},
                                              {"$set": {"last_seen_at": when}})

    async def delete(self, slug: str, session_id: str) -> None:
        await self._sessions(slug).delete_one({"_id": session_key(session_id)})

    async def delete_for_user(self, slug: str, user_id: str) -> int:
        """End every session of a user (password change, disabling)."""
        result = await self._sessions(slug).delete_many({"user_id": user_id})
        return result.deleted_count

    async def set_pending_mfa(self, slug: str, session_id: str, secret_encrypted: str | None) -> None:
        """An MFA enrollment started in this session and not yet confirmed (None clears it)."""
        await self._sessions(slug).update_one({"_id": session_key(session_id)},
                                              {"$set": {"pending_mfa": secret_encrypted}})
