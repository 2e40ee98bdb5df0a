"""The oracle of customer scoping: which customer owns each record id a payload mentions, and so
whether a customer-scoped answer holds anything of another customer."""
from __future__ import annotations

import json
import re

# Id prefix -> the collection holding it (vectis.ids: prefix, "_", 16 base32 characters).
COLLECTIONS = {"cus": "customers", "tkt": "tickets", "alr": "alerts", "ast": "assets", "ctr": "contracts",
               "inv": "invoices", "bkp": "backup_jobs", "not": "notes", "con": "contacts",
               "msg": "ticket_messages"}
ID_RE = re.compile(r"\b(" + "|".join(COLLECTIONS) + r")_[a-z2-7]{16}\b")


async def owners(db, ids: set[str]) -> dict[str, str]:
    """The customer owning each id that exists in the tenant database db."""
    found: dict[str, str] = {}
    by_prefix: dict[str, list[str]] = {}
    for record_id in ids:
        by_prefix.setdefault(record_id.split("_", 1)[0], []).append(record_id)
    threads: dict[str, str] = {}
    for prefix, wanted in by_prefix.items():
        docs = await db[COLLECTIONS[prefix]].find({"_id": {"$in": wanted}},
                                                  {"customer_id": 1, "ticket_id": 1}).to_list()
        for doc in docs:
            if prefix == "cus":
                found[doc["_id"]] = doc["_id"]
            elif prefix == "msg":
                threads[doc["_id"]] = doc["ticket_id"]
            else:
                found[doc["_id"]] = doc["customer_id"]
    if threads:
        tickets = {t["_id"]: t["customer_id"] for t in await db["tickets"].find(
            {"_id": {"$in": sorted(set(threads.values()))}}, {"customer_id": 1}).to_list()}
        found.update({msg: tickets[ticket] for msg, ticket in threads.items() if ticket in tickets})
    return found


def mentioned_ids(payload) -> set[str]:
    return {m.group(0) for m in ID_RE.finditer(json.dumps(payload))}


async def foreign_records(db, payload, customers: frozenset[str], *, sent=None) -> dict[str, str]:
    """Ids in payload (any depth, any field, text included) owned by a customer outside
    customers, with their owner. Empty when the payload is clean. Ids that `sent` (the request's
    arguments) names are left out: echoing the caller's own id back tells it nothing (whether the
    echo is the same as for an id that does not exist is for the caller to check)."""
    echoed = mentioned_ids(sent) if sent is not None else set()
    return {record_id: owner for record_id, owner in
            (await owners(db, mentioned_ids(payload) - echoed)).items() if owner not in customers}
