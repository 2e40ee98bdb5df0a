"""Every index Vectis needs, declared once. Creation is idempotent (same spec, same name)."""
from __future__ import annotations

from pymongo import ASCENDING as ASC
from pymongo import DESCENDING as DESC
from pymongo import IndexModel

CONTROL_INDEXES: dict[str, list[IndexModel]] = {
    "tenants": [
        IndexModel([("custom_domain", ASC)], name="custom_domain_unique", unique=True,
                   partialFilterExpression={"custom_domain": {"$type": "string"}}),
    ],
}


def _search_terms() -> IndexModel:
    # Multikey over each document's trigrams (vectis.search): search finds candidates without a scan.
    # _id second: the holders of one trigram are read in ranges of ids (storage.search), as many
    # entries as an index on the trigrams alone.
    return IndexModel([("search_tg", ASC), ("_id", ASC)], name="search_tg_id")


# Indexes an older version created, replaced above: dropped where found, since each costs writes.
RETIRED_TENANT_INDEXES: dict[str, tuple[str, ...]] = {
    **{collection: ("search_tg",)
       for collection in ("customers", "tickets", "alerts", "assets", "notes")},
    # The audit log's target indexes held every row; their partial successors below skip the
    # rows without a target (every read-tool call's row).
    "audit_log": ("target", "target_uuid"),
}

# The partial filter of the audit log's target indexes: rows with a target (a target kind is
# always a non-empty string). Every query of these indexes names the kind (`target.kind:
# "ticket"`), which implies `> ""` on MongoDB and on SecantusDB, whose planner reasons only about
# $eq/$gt/$gte/$lt/$lte filters (not $exists or $type). The filtered field is left out of the keys:
# SecantusDB 0.7.0b3's equality picker drops the filter's fields from the key prefix it matches,
# so with the kind leading the key `{target.kind, target.id}` was a collection scan, and with a
# filter on the key's second field `{target.id: x}` alone matched nothing (a wrong answer).
_TARGETED = {"target.kind": {"$gt": ""}}


def _refs() -> IndexModel:
    # Sync maps a vendor object to the same Vectis id through this index.
    return IndexModel([("refs.source_id", ASC), ("refs.external_id", ASC)], name="refs")


TENANT_INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("email", ASC)], name="email_unique", unique=True)],
    "pats": [
        IndexModel([("token_hash", ASC)], name="token_hash_unique", unique=True),
        IndexModel([("user_id", ASC), ("created_at", DESC)], name="user_created"),
    ],
    "sources": [IndexModel([("vendor", ASC)], name="vendor")],
    "customers": [
        IndexModel([("name", ASC)], name="name"),
        IndexModel([("status", ASC), ("name", ASC)], name="status_name"),
        _refs(),
        _search_terms(),
    ],
    "contacts": [IndexModel([("customer_id", ASC)], name="customer"), _refs()],
    # (customers are also matched by name when an RMM names its client: the "name" index above)
    "tickets": [
        IndexModel([("uuid", ASC)], name="uuid_unique", unique=True),
        IndexModel([("number", ASC)], name="number"),
        IndexModel([("status", ASC), ("updated_at", DESC)], name="status_updated"),
        IndexModel([("customer_id", ASC), ("status", ASC), ("updated_at", DESC)], name="customer_status"),
        # The time last in these three: a tenant-wide newest-first page reads a window of time of
        # one status (and priority, or assignee) as one index range (storage.pages).
        IndexModel([("status", ASC), ("priority", ASC), ("updated_at", DESC)], name="status_priority_updated"),
        IndexModel([("assignee.email", ASC), ("status", ASC), ("updated_at", DESC)],
                   name="assignee_status_updated"),
        _refs(),
        _search_terms(),
    ],
    # Writes waiting for approval: the page lists pending ones oldest first, per requester too.
    "approvals": [
        IndexModel([("status", ASC), ("requested_at", ASC)], name="status_requested"),
        IndexModel([("user_id", ASC), ("requested_at", DESC)], name="user_requested"),
    ],
    "ticket_messages": [
        IndexModel([("ticket_id", ASC), ("created_at", DESC)], name="ticket_thread"),
        IndexModel([("refs.source_id", ASC), ("refs.external_id", ASC)], name="refs"),
    ],
    "alerts": [
        IndexModel([("status", ASC), ("created_at", DESC)], name="status_created"),
        IndexModel([("customer_id", ASC), ("status", ASC), ("created_at", DESC)], name="customer_status"),
        IndexModel([("status", ASC), ("severity", ASC), ("created_at", DESC)], name="status_severity_created"),
        IndexModel([("incident_id", ASC)], name="incident",
                   partialFilterExpression={"incident_id": {"$type": "string"}}),
        _refs(),
        _search_terms(),
    ],
    "assets": [
        IndexModel([("customer_id", ASC), ("name", ASC)], name="customer_name"),
        IndexModel([("name", ASC), ("_id", ASC)], name="name"),
        # A tenant-wide page by kind or status reads windows of names of that kind (name_pages).
        IndexModel([("kind", ASC), ("name", ASC), ("_id", ASC)], name="kind_name"),
        IndexModel([("status", ASC), ("name", ASC), ("_id", ASC)], name="status_name"),
        IndexModel([("hardware.serial_number", ASC)], name="serial"),
        _refs(),
        _search_terms(),
    ],
    "contracts": [
        IndexModel([("customer_id", ASC)], name="customer"),
        IndexModel([("status", ASC), ("end_date", ASC)], name="status_end"),
        _refs(),
    ],
    "backup_jobs": [
        IndexModel([("last_status", ASC), ("last_run_at", DESC)], name="status_run"),
        IndexModel([("customer_id", ASC)], name="customer"),
        _refs(),
    ],
    "invoices": [
        IndexModel([("customer_id", ASC), ("issued_at", DESC)], name="customer_issued"),
        IndexModel([("status", ASC), ("issued_at", DESC)], name="status_issued"),
        IndexModel([("issued_at", DESC), ("_id", DESC)], name="issued"),
        _refs(),
    ],
    "notes": [
        IndexModel([("customer_id", ASC), ("created_at", DESC)], name="customer_created"),
        IndexModel([("created_at", DESC), ("_id", DESC)], name="created"),
        _search_terms(),
    ],
    "rules": [
        IndexModel([("name", ASC), ("_id", ASC)], name="name"),
        # Import matches rules by name, so a name must say which rule it is.
        IndexModel([("name", ASC)], name="name_unique", unique=True),
    ],
    "rule_executions": [
        IndexModel([("created_at", DESC), ("_id", DESC)], name="created"),
        IndexModel([("rule_id", ASC), ("created_at", DESC)], name="rule_created"),
        IndexModel([("status", ASC), ("created_at", DESC)], name="status_created"),
        # claim_next: the due queued executions, and the running ones whose lease expired.
        IndexModel([("status", ASC), ("run_after", ASC)], name="status_run_after"),
        IndexModel([("status", ASC), ("lease_until", ASC)], name="status_lease"),
    ],
    "sessions": [
        IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0),
        IndexModel([("user_id", ASC)], name="user"),
    ],
    "oauth_clients": [
        IndexModel([("metadata_hash", ASC)], name="metadata_unique", unique=True,
                   partialFilterExpression={"metadata_hash": {"$type": "string"}}),
        IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0),
    ],
    "oauth_codes": [IndexModel([("purge_at", ASC)], name="ttl", expireAfterSeconds=0)],
    "oauth_grants": [
        IndexModel([("refresh.current", ASC)], name="refresh_current"),
        IndexModel([("refresh.previous", ASC)], name="refresh_previous"),
        IndexModel([("refresh.retired", ASC)], name="refresh_retired"),
        IndexModel([("user_id", ASC), ("created_at", DESC)], name="user_created"),
        IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0),
    ],
    "events": [
        IndexModel([("at", ASC), ("_id", ASC)], name="at"),
        IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0),
    ],
    "idempotency": [IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0)],
    "ratelimits": [IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0)],
    "audit_log": [
        IndexModel([("at", DESC)], name="at"),
        # Partial: a read tool's row (no target; most rows) writes no entry here. A changed spec
        # needs a new name (the old ones are retired above). Ids are unique across kinds (a type
        # prefix), so the kind need not be in the key.
        IndexModel([("target.id", ASC), ("at", DESC)], name="targeted",
                   partialFilterExpression=_TARGETED),
        IndexModel([("target.uuid", ASC)], name="targeted_uuid", partialFilterExpression=_TARGETED),
        IndexModel([("actor.credential_id", ASC), ("at", DESC)], name="actor"),
    ],
}
