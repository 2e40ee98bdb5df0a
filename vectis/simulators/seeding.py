"""Seeding a simulator with the canonical documents of ONE source of a tenant, so the simulator
holds the same objects as the tenant's database: write tools on demo tickets and alerts reach the
vendor under the right ids, and a later sync reads the same objects back.

A document's vendor id is the `external_id` of its ref to the source (an int for numeric vendors;
other ids are left out and counted as `skipped_<kind>`). Customers an RMM or backup source knows
only through their devices have no ref to it (demo customers have PSA refs only): their
organization ids are assigned here. Each vendor's mapping is its package's `seed` module
(`vectis.vendors.<vendor>.seed`), built on the helpers in `vectis.vendors.simseed`.
"""
from __future__ import annotations

import importlib

from ..vendors.registry import VENDORS
from ..vendors.simseed import Batch

SOURCE_COLLECTIONS = ("customers", "contacts", "tickets", "assets", "alerts", "contracts",
                      "backup_jobs", "invoices")
NO_SEARCH_TERMS = {"search_tg": 0}
OPEN_TICKET = ("new", "open", "in_progress", "waiting")


# --- reading the tenant's documents ------------------------------------------------------------
async def load_source_docs(storage, slug: str, source_id: str) -> dict[str, list[dict]]:
    """collection -> the canonical docs of `source_id`: the docs whose refs name it, every
    message of those tickets (messages carry their own refs or none), the customers the source's
    docs belong to (RMM and backup sources have no customer refs), and the source itself."""
    db = storage.db.tenant(slug)
    docs: dict[str, list[dict]] = {}
    for name in SOURCE_COLLECTIONS:
        docs[name] = await db[name].find({"refs.source_id": source_id},
                                         NO_SEARCH_TERMS).sort("_id", 1).to_list()
    # Every message, kept in Python: SecantusDB answers a `$in` of thousands of ticket ids by
    # comparing each message with each id (hours at 50,000 tickets). `Batch.thread` orders them.
    ticket_ids = {ticket["_id"] for ticket in docs["tickets"]}
    docs["ticket_messages"] = [m async for m in db.ticket_messages.find({}, NO_SEARCH_TERMS)
                               if m["ticket_id"] in ticket_ids]
    known = {customer["_id"] for customer in docs["customers"]}
    owners = sorted({doc["customer_id"] for name in SOURCE_COLLECTIONS for doc in docs[name]
                     if doc.get("customer_id") and doc["customer_id"] not in known})
    docs["customers"] += await db.customers.find({"_id": {"$in": owners}},
                                                 NO_SEARCH_TERMS).sort("_id", 1).to_list()
    source = await storage.sources.get(slug, source_id)
    docs["sources"] = [source] if source else []
    return docs


# --- the entry point -------------------------------------------------------------------------
def seed_from_tenant(simulator, vendor: str, docs: dict[str, list[dict]]) -> dict[str, int]:
    """Convert one source's canonical docs to `vendor`'s shapes and seed `simulator` with them.
    Returns how many objects of each vendor kind were seeded, plus `skipped_*` counts."""
    if getattr(simulator, "vendor", vendor) != vendor:
        raise ValueError(f"a {simulator.vendor} simulator cannot be seeded as {vendor}")
    if vendor not in VENDORS:
        raise KeyError(f"no seeding for vendor {vendor!r}")
    batch = Batch(docs)
    importlib.import_module(f"vectis.vendors.{vendor}.seed").seed(simulator, batch)
    return dict(batch.counts)


