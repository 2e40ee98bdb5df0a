"""Operators of a tenant."""
from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from ..customer_scope import stored
from ..ids import new_id
from ..scopes import ROLES
from .core import Database


class UserExists(Exception):
    pass


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or "." not in domain or len(email) > 254 or " " in email:
        raise ValueError(f"invalid e-mail address {email!r}")
    return email


class UserRepository:
    def __init__(self, db: Database):
        self._db = db

    def _users(self, slug: str):
        return self._db.tenant(slug)["users"]

    async def create(self, slug: str, email: str, name: str, role: str, password_hash: str,
                     customers: frozenset[str] | None = None) -> dict:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        now = datetime.now(UTC)
        doc = {
            "_id": new_id("usr"), "email": normalize_email(email), "name": name, "role": role,
            "password_hash": password_hash, "disabled": False, "mfa": None,
            # None: every customer; else the only customers this user's credentials see.
            "customers": stored(customers),
            "created_at": now, "updated_at": now,
        }
        try:
            await self._users(slug).insert_one(doc)
        except DuplicateKeyError:
            raise UserExists(doc["email"]) from None
        return doc

    async def by_email(self, slug: str, email: str) -> dict | None:
        return await self._users(slug).find_one({"email": email.strip().lower()})

    async def by_id(self, slug: str, user_id: str) -> dict | None:
        return await self._users(slug).find_one({"_id": user_id})

    async def list(self, slug: str) -> list[dict]:
        return await self._users(slug).find({}, {"password_hash": 0}).sort("email", 1).to_list()

    async def set_customers(self, slug: str, user_id: str, customers: frozenset[str] | None) -> bool:
        """Restrict the user to customers (None lifts the restriction); every credential of the
        user follows within the auth cache bound. False when there is no such user."""
        result = await self._users(slug).update_one(
            {"_id": user_id},
            {"$set": {"customers": stored(customers),
                      "updated_at": datetime.now(UTC)}})
        return result.matched_count == 1

    # MFA: {"secret_encrypted", "enrolled_at", "last_used_step", "recovery_hashes"}; None when off.
    async def set_mfa(self, slug: str, user_id: str, mfa: dict) -> bool:
        """Enroll, only if not enrolled already (two concurrent confirmations: one wins)."""
        result = await self._users(slug).update_one(
            {"_id": user_id, "mfa": None},
            {"$set": {"mfa": mfa, "updated_at": datetime.now(UTC)}})
        return result.modified_count == 1

    async def clear_mfa(self, slug: str, user_id: str) -> bool:
        result = await self._users(slug).update_one(
            {"_id": user_id, "mfa": {"$ne": None}},
            {"$set": {"mfa": None, "updated_at": datetime.now(UTC)}})
        return result.modified_count == 1

    async def use_totp_step(self, slug: str, user_id: str, step: int) -> bool:
        """Accept a TOTP time step only if strictly later than the last one accepted (atomic)."""
        result = await self._users(slug).update_one(
            {"_id": user_id, "mfa.last_used_step": {"$lt": step}},
            {"$set": {"mfa.last_used_step": step}})
        return result.modified_count == 1

    async def use_recovery_hash(self, slug: str, user_id: str, code_hash: str) -> bool:
        """Consume one recovery code (atomic: a code works once)."""
        result = await self._users(slug).update_one(
            {"_id": user_id, "mfa.recovery_hashes": code_hash},
            {"$pull": {"mfa.recovery_hashes": code_hash}})
        return result.modified_count == 1
