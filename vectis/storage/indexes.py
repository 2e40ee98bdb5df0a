"""Every index Vectis needs, declared once. Creation is idempotent (same spec, same name)."""
from __future__ import annotations

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel

CONTROL_INDEXES: dict[str, list[IndexModel]] = {
    "tenants": [
        IndexModel([("custom_domain", ASC)], name="custom_domain_unique", unique=True,
                   partialFilterExpression={"custom_domain": {"$type": "string"}}),
    ],
}


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
    ],
    "contacts": [IndexModel([("customer_id", ASC)], name="customer"), _refs()],
    "tickets": [
        IndexModel([("uuid", ASC)], name="uuid_unique", unique=True),
        IndexModel([("number", ASC)], name="number"),
        IndexModel([("status", ASC), ("updated_at", DESC)], name="status_updated"),
        IndexModel([("customer_id", ASC), ("status", ASC), ("updated_at", DESC)], name="customer_status"),
        IndexModel([("assignee.email", ASC), ("status", ASC)], name="assignee_status"),
        _refs(),
    ],
    "ticket_messages": [IndexModel([("ticket_id", ASC), ("created_at", DESC)], name="ticket_thread")],
    "alerts": [
        IndexModel([("status", ASC), ("created_at", DESC)], name="status_created"),
        IndexModel([("customer_id", ASC), ("status", ASC), ("created_at", DESC)], name="customer_status"),
        _refs(),
    ],
    "assets": [
        IndexModel([("customer_id", ASC), ("name", ASC)], name="customer_name"),
        IndexModel([("hardware.serial_number", ASC)], name="serial"),
        _refs(),
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
        _refs(),
    ],
    "notes": [IndexModel([("customer_id", ASC), ("created_at", DESC)], name="customer_created")],
    "ratelimits": [IndexModel([("expires_at", ASC)], name="ttl", expireAfterSeconds=0)],
    "audit_log": [
        IndexModel([("at", DESC)], name="at"),
        IndexModel([("target.kind", ASC), ("target.id", ASC), ("at", DESC)], name="target"),
        IndexModel([("target.kind", ASC), ("target.uuid", ASC)], name="target_uuid"),
        IndexModel([("actor.credential_id", ASC), ("at", DESC)], name="actor"),
    ],
}
