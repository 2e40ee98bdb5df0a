"""The customer boundary: a read-only view of a tenant's database that only holds the documents
of the customers in a scope (vectis.customer_scope).

Tenants are separated by database; customers inside a tenant by this view. A restricted
principal's tools get a Storage built on it (Storage.scoped), so every query any repository makes
for them carries the scope: a tool cannot forget it, and a document of another customer is, for
them, a document that does not exist. Deny by default: a collection missing from SCOPED_BY cannot
be read through the view at all, and nothing can be written through it.
"""
from __future__ import annotations

from typing import Any

from .core import Database
from .pages import merge_conditions

# How each readable collection is tied to a customer.
SCOPED_BY: dict[str, str] = {
    "customers": "_id",
    "contacts": "customer_id",
    "tickets": "customer_id",
    "alerts": "customer_id",
    "assets": "customer_id",
    "contracts": "customer_id",
    "backup_jobs": "customer_id",
    "invoices": "customer_id",
    "notes": "customer_id",
    # Rows of writes name the customer of their target (vectis.writes.actions); rows without one
    # (reads, credential events, rows older than customer scopes) are outside every scope.
    "audit_log": "target.customer_id",
}
# A thread is read by its ticket's id; the ticket decides whether it is in scope.
THREADS = "ticket_messages"
# Tenant-level configuration that names no customer (a linked record's source and its sync state).
UNSCOPED = frozenset({"sources"})
# Stages that read another collection, or write, would step outside the view.
FORBIDDEN_STAGES = frozenset({"$lookup", "$unionWith", "$graphLookup", "$facet", "$out", "$merge"})
WRITES = frozenset({
    "insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
    "delete_many", "bulk_write", "find_one_and_update", "find_one_and_replace", "find_one_and_delete",
    "create_index", "create_indexes", "drop", "drop_index", "drop_indexes", "rename", "watch",
    "estimated_document_count",
})


class OutsideScope(PermissionError):
    """A storage call that a customer-scoped view cannot make safely (a programming error)."""


def restrict(query: dict | None, field: str, customers: frozenset[str]) -> dict:
    """query, also requiring `field` to be one of customers: one flat filter where possible, so
    the same indexes serve it (an `$and` at the top is a scan on SecantusDB)."""
    query = dict(query or {})
    allowed = sorted(customers)
    condition = query.get(field)
    if condition is None and field not in query:
        query[field] = allowed[0] if len(allowed) == 1 else {"$in": allowed}
        return query
    if isinstance(condition, str):
        query[field] = condition if condition in customers else {"$in": []}
        return query
    if isinstance(condition, dict) and set(condition) == {"$in"} and isinstance(condition["$in"], list):
        query[field] = {"$in": [c for c in condition["$in"] if c in customers]}
        return query
    return merge_conditions(query, {field: {"$in": allowed}})


class ScopedCollection:
    def __init__(self, collection, field: str | None, customers: frozenset[str], tickets=None):
        self._collection = collection
        self._field = field
        self._customers = customers
        self._tickets = tickets          # the scoped tickets, for THREADS
        self.name = collection.name

    async def _filter(self, query: dict | None) -> dict:
        if self._field is not None:
            return restrict(query, self._field, self._customers)
        if self._tickets is None:
            return dict(query or {})
        return await self._thread_filter(query or {})

    async def _thread_filter(self, query: dict) -> dict:
        wanted = query.get("ticket_id")
        ids = [wanted] if isinstance(wanted, str) else (
            wanted["$in"] if isinstance(wanted, dict) and set(wanted) == {"$in"} else None)
        if ids is None:
            raise OutsideScope("a customer-scoped thread read must name its ticket_id")
        visible = await self._tickets.distinct("_id", {"_id": {"$in": list(ids)}})
        return {**query, "ticket_id": {"$in": visible}}

    def find(self, query: dict | None = None, *args, **kwargs):
        if self._tickets is not None:
            return _ThreadCursor(self, query or {}, args, kwargs)
        return self._collection.find(restrict(query, self._field, self._customers), *args, **kwargs)

    async def find_one(self, query: dict | None = None, *args, **kwargs):
        return await self._collection.find_one(await self._filter(query), *args, **kwargs)

    async def count_documents(self, query: dict, *args, **kwargs) -> int:
        return await self._collection.count_documents(await self._filter(query), *args, **kwargs)

    async def distinct(self, key: str, query: dict | None = None, *args, **kwargs) -> list:
        return await self._collection.distinct(key, await self._filter(query), *args, **kwargs)

    async def aggregate(self, pipeline: list[dict], *args, **kwargs):
        stages = [next(iter(stage)) for stage in pipeline]
        if FORBIDDEN_STAGES.intersection(stages):
            raise OutsideScope(f"a customer-scoped view cannot run {sorted(FORBIDDEN_STAGES.intersection(stages))}")
        scope = {"$match": await self._filter({})}
        # After a leading $match, not merged into it: SecantusDB plans a $match through an index
        # only when the index covers all its fields; MongoDB merges adjacent $match stages itself.
        at = 1 if stages and stages[0] == "$match" else 0
        return await self._collection.aggregate([*pipeline[:at], scope, *pipeline[at:]], *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in WRITES:
            raise OutsideScope(f"{name} is not allowed through a customer-scoped view")
        raise OutsideScope(f"{name} is not part of the customer-scoped view")


class ScopedTenantDatabase:
    def __init__(self, database, customers: frozenset[str]):
        self._database = database
        self._customers = customers

    def __getitem__(self, name: str):
        if name in SCOPED_BY:
            return ScopedCollection(self._database[name], SCOPED_BY[name], self._customers)
        if name == THREADS:
            tickets = ScopedCollection(self._database["tickets"], SCOPED_BY["tickets"], self._customers)
            return ScopedCollection(self._database[name], None, self._customers, tickets=tickets)
        if name in UNSCOPED:
            return self._database[name]
        raise OutsideScope(f"collection {name!r} cannot be read by a customer-scoped principal")

    def __getattr__(self, name: str) -> Any:
        raise OutsideScope(f"{name} is not part of the customer-scoped view")


class _ThreadCursor:
    """A find() on THREADS: the ticket look-up its filter needs is async, so the real cursor is
    made when the results are read; sort, limit and skip are replayed on it."""

    def __init__(self, collection: ScopedCollection, query: dict, args: tuple, kwargs: dict):
        self._collection, self._query, self._args, self._kwargs = collection, query, args, kwargs
        self._chain: list[tuple[str, tuple, dict]] = []

    def _record(self, name: str, *args, **kwargs) -> _ThreadCursor:
        self._chain.append((name, args, kwargs))
        return self

    def sort(self, *args, **kwargs) -> _ThreadCursor:
        return self._record("sort", *args, **kwargs)

    def limit(self, *args, **kwargs) -> _ThreadCursor:
        return self._record("limit", *args, **kwargs)

    def skip(self, *args, **kwargs) -> _ThreadCursor:
        return self._record("skip", *args, **kwargs)

    async def _cursor(self):
        query = await self._collection._filter(self._query)
        cursor = self._collection._collection.find(query, *self._args, **self._kwargs)
        for name, args, kwargs in self._chain:
            cursor = getattr(cursor, name)(*args, **kwargs)
        return cursor

    async def to_list(self, *args, **kwargs) -> list[dict]:
        return await (await self._cursor()).to_list(*args, **kwargs)

    async def __aiter__(self):
        async for doc in await self._cursor():
            yield doc


class ScopedDatabase:
    """What repositories use of a Database (prefix, tenant handles), with the tenant handles
    customer-scoped views. No control database, no client: nothing outside the view."""

    def __init__(self, db: Database, customers: frozenset[str]):
        self._db = db
        self.prefix = db.prefix
        self.customers = customers

    def tenant(self, slug: str) -> ScopedTenantDatabase:
        return ScopedTenantDatabase(self._db.tenant(slug), self.customers)
