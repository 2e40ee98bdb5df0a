"""Rules-engine definitions and their execution history (including the dead-letter queue).

Executions are also the engine's work queue: a worker claims one atomically under a lease
(`claim_next`), and every later change is conditional on its status, so two processes never run
the same execution at once and a dead worker's execution is taken over once its lease expires.
"""
from __future__ import annotations

from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import Database
from .pages import find_page

RULE_SORT = [("name", 1), ("_id", 1)]
EXECUTION_SORT = [("created_at", -1), ("_id", -1)]  # newest first
CLAIM_SORT = [("run_after", 1), ("created_at", 1), ("_id", 1)]  # oldest due first
# The definition an operator writes (vectis.rules.model); replace() sets exactly these.
DEFINITION_FIELDS = ("name", "description", "enabled", "trigger", "actions", "cooldown_seconds")


class RuleNameTaken(Exception):
    """Another rule of the tenant already has this name."""


class RuleRepository:
    def __init__(self, db: Database):
        self._db = db

    def _rules(self, slug: str):
        return self._db.tenant(slug)["rules"]

    def _executions(self, slug: str):
        return self._db.tenant(slug)["rule_executions"]

    # --- rules --------------------------------------------------------------------------------
    async def page(self, slug: str, *, enabled: bool | None = None, limit: int,
                   after: list | None) -> tuple[list[dict], list | None]:
        query = {} if enabled is None else {"enabled": enabled}
        return await find_page(self._rules(slug), query, RULE_SORT, limit, after)

    async def get(self, slug: str, rule_id: str) -> dict | None:
        return await self._rules(slug).find_one({"_id": rule_id})

    async def by_name(self, slug: str, name: str) -> dict | None:
        return await self._rules(slug).find_one({"name": name})

    async def all(self, slug: str) -> list[dict]:
        return await self._rules(slug).find({}).sort(RULE_SORT).to_list()

    async def insert(self, slug: str, doc: dict) -> dict:
        """Store a new rule (`_id`, definition, `owner_user_id`); timestamps are filled in when
        absent. Raises RuleNameTaken."""
        now = datetime.now(UTC)
        doc = {"created_at": now, "updated_at": now, **doc}
        try:
            await self._rules(slug).insert_one(doc)
        except DuplicateKeyError:
            raise RuleNameTaken(doc.get("name")) from None
        return doc

    async def replace(self, slug: str, rule_id: str, doc: dict) -> dict | None:
        """Replace a rule's definition, keeping its id, creation time and (unless `doc` names
        one) its owner. Returns the stored rule, None if there is none. Raises RuleNameTaken."""
        changes = {k: doc[k] for k in DEFINITION_FIELDS if k in doc}
        if "owner_user_id" in doc:
            changes["owner_user_id"] = doc["owner_user_id"]
        changes["updated_at"] = doc.get("updated_at") or datetime.now(UTC)
        try:
            return await self._rules(slug).find_one_and_update(
                {"_id": rule_id}, {"$set": changes}, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise RuleNameTaken(doc.get("name")) from None

    async def delete(self, slug: str, rule_id: str) -> dict | None:
        """The deleted rule, None if there was none. Its executions stay as history; a queued one
        fails with "the rule no longer exists" (rules.worker)."""
        return await self._rules(slug).find_one_and_delete({"_id": rule_id})

    async def set_enabled(self, slug: str, rule_id: str, enabled: bool) -> bool:
        """False when there is no such rule."""
        result = await self._rules(slug).update_one(
            {"_id": rule_id}, {"$set": {"enabled": bool(enabled), "updated_at": datetime.now(UTC)}})
        return result.matched_count == 1

    # --- executions -------------------------------------------------------------------------
    async def executions_page(self, slug: str, *, rule_id: str | None = None, status: str | None = None,
                              since: datetime | None = None, limit: int,
                              after: list | None) -> tuple[list[dict], list | None]:
        query: dict = {}
        if rule_id:
            query["rule_id"] = rule_id
        if status:
            query["status"] = status
        if since:
            query["created_at"] = {"$gte": since}
        return await find_page(self._executions(slug), query, EXECUTION_SORT, limit, after)

    async def execution_counts(self, slug: str) -> tuple[int, int]:
        """(queued or running, dead-lettered): the rules engine's backlog, for /metrics."""
        executions = self._executions(slug)
        backlog = await executions.count_documents({"status": {"$in": ["queued", "running"]}})
        dead = await executions.count_documents({"status": "dead_letter"})
        return backlog, dead

    async def insert_execution(self, slug: str, doc: dict) -> bool:
        """False when an execution with this `_id` exists: the id digests (rule, event), so the
        same event matched twice (two processes, a redelivery) queues one execution."""
        try:
            await self._executions(slug).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_execution(self, slug: str, execution_id: str) -> dict | None:
        return await self._executions(slug).find_one({"_id": execution_id})

    async def update_execution(self, slug: str, execution_id: str, changes: dict, *,
                               expected_status: str | tuple[str, ...] | None = None,
                               expected_owner: str | None = None) -> dict | None:
        """Set `changes` atomically, only while the execution is in `expected_status` (and held
        by `expected_owner`) when given; returns the updated execution, None if the condition
        did not hold (another worker took it over, or it finished)."""
        query: dict = {"_id": execution_id}
        if isinstance(expected_status, str):
            query["status"] = expected_status
        elif expected_status is not None:
            query["status"] = {"$in": list(expected_status)}
        if expected_owner is not None:
            query["owner"] = expected_owner
        changes = {"updated_at": datetime.now(UTC), **changes}
        return await self._executions(slug).find_one_and_update(
            query, {"$set": changes}, return_document=ReturnDocument.AFTER)

    async def claim_next(self, slug: str, owner: str, lease_until: datetime,
                         now: datetime) -> dict | None:
        """Take the oldest due execution: a queued one whose `run_after` has come, or a running
        one whose lease expired (its worker died). It becomes `running` under `owner` until
        `lease_until`, with one more attempt; None when nothing is due. A single atomic update:
        concurrent claims never take the same execution."""
        query = {"$or": [{"status": "queued", "run_after": {"$lte": now}},
                         {"status": "running", "lease_until": {"$lt": now}}]}
        return await self._executions(slug).find_one_and_update(
            query,
            {"$set": {"status": "running", "owner": owner, "lease_until": lease_until, "updated_at": now},
             "$inc": {"attempts": 1}},
            sort=CLAIM_SORT, return_document=ReturnDocument.AFTER)
