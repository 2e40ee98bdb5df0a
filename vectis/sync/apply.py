"""Turning one page of Records into database writes and events.

Matching: a vendor object is found by its ref (source id + vendor id), so the same vendor
object always maps to the same Vectis id. Failing that, a customer named by an RMM or backup
tool is matched by name, and a device by serial number, so one customer or device seen in two
sources is one document with two refs. Only the fields a record carries are written, and only
when they differ: local fields (notes, health, operator edits of other fields) are never touched.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..ids import new_id
from ..search.fields import search_terms_update
from .records import COLLECTION, Record

PREFIX = {"customers": "cus", "contacts": "con", "tickets": "tkt", "alerts": "alr", "assets": "ast",
          "contracts": "ctr", "invoices": "inv", "backup_jobs": "bkp"}
NEEDS_CUSTOMER = {"contacts", "tickets", "alerts", "assets", "contracts", "invoices", "backup_jobs"}
ENTITY_DEFAULTS = {
    "assets": {"name": "", "kind": "workstation", "status": "online", "hardware": {}, "os": {},
               "site": {}, "warranty": {}, "lifecycle": {}, "ip_address": None, "last_seen_at": None},
    "contracts": {"name": "", "kind": "managed_services", "status": "active", "monthly_value": 0.0,
                  "auto_renew": False, "start_date": None, "end_date": None},
    "invoices": {"number": "", "status": "open", "currency": "USD", "lines": [], "total": 0.0,
                 "balance": 0.0, "issued_at": None, "due_at": None},
    "backup_jobs": {"name": "", "asset_id": None, "last_status": "success", "last_error": None,
                    "last_run_at": None, "last_success_at": None, "size_gb": None},
}
TRACKED = {"tickets": ("status", "priority", "assignee", "subject"), "alerts": ("status", "severity"),
           "backup_jobs": ("last_status",)}


@dataclass
class Counts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    closed: int = 0
    deleted: int = 0
    unlinked: int = 0
    events: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Run:
    """One entity of one source being synced."""
    slug: str
    source: dict
    entity: str
    initial: bool                      # first run of this entity: a baseline, no events
    now: datetime
    counts: Counts = field(default_factory=Counts)
    seen: set[str] = field(default_factory=set)
    events: list[dict] = field(default_factory=list)
    # Whether the vendor's snapshot paging can skip an object (page numbers or offsets shift
    # when something before them goes away during the read) and which objects the last complete
    # snapshot already lacked: only those, missing twice in a row, are closed.
    stable: bool = True
    missing_before: frozenset[str] = frozenset()
    missing: list[str] = field(default_factory=list)

    @property
    def source_id(self) -> str:
        return self.source["_id"]

    def ref(self, external_id: str) -> dict:
        return {"source_id": self.source_id, "external_id": external_id}


def event(run: Run, kind: str, doc: dict, signature, data: dict | None = None) -> None:
    """One event per real change: its id digests the change, so seeing it twice is one event."""
    if run.initial:
        return
    digest = hashlib.sha256(json.dumps([kind, doc["_id"], signature], default=str).encode()).hexdigest()
    run.events.append({"_id": "evt_" + digest[:32], "type": kind, "at": run.now,
                       "object": {"kind": run.entity.rstrip("s"), "id": doc["_id"]},
                       "customer_id": doc.get("customer_id"), "source_id": run.source_id,
                       "data": data or {}})


def _occurrence(doc: dict, what: str) -> list:
    """Which time this happens to the document: an alert resolved, reopened and resolved again
    is two events, while the same resolution seen twice (re-read before it was stored) is one."""
    return [what, len(doc.get("history") or [])]


def _same(a, b) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        a = a if a.tzinfo else a.replace(tzinfo=UTC)
        b = b if b.tzinfo else b.replace(tzinfo=UTC)
        return abs((a - b).total_seconds()) < 1
    return a == b


def _merged(old, new):
    """A nested object merged key by key, where the vendor's unknowns (None) keep what we had;
    but another person (a different name) replaces the whole object: their e-mail is not ours."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    if "name" in new and "name" in old and new["name"] != old["name"]:
        return new
    return {**old, **{k: v for k, v in new.items() if v is not None}}


# What firmware puts where the maker left the serial number blank: shared by thousands of
# machines, so it must never make two devices one.
PLACEHOLDER_SERIALS = frozenset({
    "to be filled by o.e.m.", "to be filled by oem", "default string", "system serial number",
    "chassis serial number", "not specified", "not applicable", "none", "null", "n/a", "na",
    "unknown", "invalid", "serial", "0123456789", "123456789", "1234567890", "xxxxxxxxxx",
})


def real_serial(serial) -> bool:
    if not isinstance(serial, str):
        return False
    text = serial.strip().lower()
    return len(text) >= 4 and text not in PLACEHOLDER_SERIALS and len(set(text)) > 1


def _exactly(name: str) -> dict:
    return {"$regex": "^" + re.escape(name.strip()) + "$", "$options": "i"}


class PageWriter:
    def __init__(self, storage):
        self._storage = storage

    async def apply(self, run: Run, records: list[Record]) -> None:
        sync, collection = self._storage.sync, COLLECTION[run.entity]
        existing = await sync.by_refs(run.slug, collection, run.source_id,
                                      [r.external_id for r in records])
        customers = await self._linked(run, "customers", records, "customer")
        assets = await self._linked(run, "assets", records, "asset", customers)
        inserts, updates = [], []
        for record in records:
            run.counts.seen += 1
            run.seen.add(record.external_id)
            doc = existing.get(record.external_id) or await self._match(run, record)
            values = dict(record.fields)
            customer_id = customers.get(record.external_id)
            if run.entity in NEEDS_CUSTOMER:
                if customer_id is None and doc is None:
                    run.counts.unlinked += 1
                    continue
                if customer_id is not None:
                    values["customer_id"] = customer_id
            if record.external_id in assets:
                values["asset_id"] = assets[record.external_id]
            if record.deleted:
                closing = self._deleted(run, doc) if doc is not None else []
                if closing:
                    updates += closing
                    run.counts.deleted += 1
                continue
            if doc is None:
                doc = self._new(run, record, values)
                inserts.append(doc)
                run.counts.created += 1
                event(run, run.entity.rstrip("s") + ".created", doc, record.external_id,
                      {k: doc.get(k) for k in TRACKED.get(run.entity, ())})
                if run.entity == "backup_jobs" and doc.get("last_status") == "failed":
                    event(run, "backup.failed", doc, doc.get("last_run_at"), {"error": doc.get("last_error")})
            else:
                if doc.get("deleted_at") is not None:
                    values["deleted_at"] = None       # listed as live again: reactivated
                update = self._changes(run, doc, values, record)
                if update:
                    updates.append((doc["_id"], update))
                    run.counts.updated += 1
            existing[record.external_id] = doc
        messages = None
        if run.entity == "tickets":
            threads = [(existing[r.external_id], r.children) for r in records
                       if r.children and not r.deleted and r.external_id in existing]
            messages = await self._plan_messages(run, threads, {doc["_id"] for doc in inserts})
        await sync.insert(run.slug, collection, inserts)
        await sync.update(run.slug, collection, updates)
        if messages is not None:
            adopted, fresh, counts = messages
            await sync.update(run.slug, "ticket_messages", adopted)
            await sync.insert(run.slug, "ticket_messages", fresh)
            # After the messages: a crash in between leaves a count too low, which the next run's
            # count (held + added) corrects, never one that promises messages not stored.
            await sync.update(run.slug, "tickets", counts)

    async def _linked(self, run: Run, collection: str, records: list[Record], link: str,
                      customers: dict[str, str] | None = None) -> dict[str, str]:
        """record external id -> Vectis id of the customer (or asset) it links to."""
        ids = sorted({r.links[link] for r in records if r.links.get(link)})
        by_ref = await self._storage.sync.by_refs(run.slug, collection, run.source_id, ids)
        out = {}
        for record in records:
            if run.entity == collection:
                continue
            target = by_ref.get(record.links.get(link, ""))
            name = record.link_names.get(link)
            if target is None and name and link == "customer":
                target = await self._customer_by_name(run, name)
            elif target is None and name and link == "asset" and customers and record.external_id in customers:
                # Backup tools name the protected machine by host name, which is unique only
                # within one customer: every client has its DC01.
                target = await self._storage.sync.find_one(
                    run.slug, "assets", {"customer_id": customers[record.external_id],
                                         "name": _exactly(name)})
            if target is not None:
                out[record.external_id] = target["_id"]
        return out

    async def _customer_by_name(self, run: Run, name: str, query: dict | None = None) -> dict | None:
        return await self._storage.sync.find_one(run.slug, "customers",
                                                 {"name": _exactly(name), **(query or {})})

    async def _match(self, run: Run, record: Record) -> dict | None:
        """The same customer or device already known from another source: add our ref to it.
        A document that already holds a ref of this source is another object of this source
        (two clients both called "Acme"), never this one; a deleted record matches nothing."""
        if record.deleted:
            return None
        others = {"refs.source_id": {"$ne": run.source_id}}
        doc = None
        if run.entity == "customers" and record.fields.get("name"):
            doc = await self._customer_by_name(run, record.fields["name"], others)
        serial = (record.fields.get("hardware") or {}).get("serial_number")
        if run.entity == "assets" and real_serial(serial):
            doc = await self._storage.sync.find_one(run.slug, "assets",
                                                    {"hardware.serial_number": serial, **others})
        if doc is not None:
            await self._storage.sync.update(run.slug, COLLECTION[run.entity],
                                            [(doc["_id"], {"$push": {"refs": run.ref(record.external_id)}})])
        return doc

    def _new(self, run: Run, record: Record, values: dict) -> dict:
        now, source = run.now, run.source
        base: dict = {"_id": new_id(PREFIX[run.entity]), "refs": [run.ref(record.external_id)],
                      "created_at": now, "updated_at": now}
        if run.entity == "customers":
            base.update(status="active", address={}, primary_contact_id=None, mrr=0.0, arr=0.0,
                        health=None, primary_psa_source_id=source["_id"] if source["kind"] == "psa" else None)
        elif run.entity == "contacts":
            base.update(name="", is_primary=False, email=None, phone=None, title=None)
        elif run.entity == "tickets":
            base.update(uuid=str(uuid.uuid4()), number=record.external_id, source_id=source["_id"],
                        origin="psa", status="open", priority="medium", description="",
                        requester={"name": "", "email": None}, assignee=None, closed_at=None,
                        message_count=0)
        elif run.entity == "alerts":
            base.update(uuid=str(uuid.uuid4()), asset_id=None, source_id=source["_id"],
                        vendor=source["vendor"], severity="minor", status="open", title="", message="",
                        incident_id=None, resolved_at=None)
        elif run.entity in ("assets", "contracts", "invoices", "backup_jobs"):
            # What a vendor leaves out still gets a valid value of our model.
            base.update(source_id=source["_id"], **ENTITY_DEFAULTS[run.entity])
            if run.entity == "backup_jobs":
                base.update(vendor=source["vendor"])
        doc = {**base, **values}
        if run.entity == "alerts":
            created = doc.get("created_at") or now
            doc["history"] = [{"at": created, "action": "created", "actor": source["vendor"]}]
            if doc["status"] != "open":
                doc["history"].append({"at": now, "action": doc["status"], "actor": source["vendor"]})
        if run.entity == "tickets" and doc["status"] in ("resolved", "closed") and not doc.get("closed_at"):
            doc["closed_at"] = doc.get("updated_at") or now
        if run.entity == "customers":
            doc["arr"] = 12 * float(doc.get("mrr") or 0)
        return doc

    def _changes(self, run: Run, doc: dict, values: dict, record: Record) -> dict | None:
        # Nested objects (hardware, os, address, …) are merged key by key: a vendor that knows
        # only a device's serial must not erase the RAM size another source gave.
        values = {k: _merged(doc.get(k), v) for k, v in values.items()}
        changed = {k: v for k, v in values.items() if not _same(doc.get(k), v)}
        if not changed:
            return None
        update: dict = {}
        if run.entity == "tickets" and "status" in changed:
            closing = changed["status"] in ("resolved", "closed")
            if closing and not doc.get("closed_at"):
                changed["closed_at"] = changed.get("closed_at") or run.now
            if not closing:
                changed["closed_at"] = None
        if run.entity == "alerts" and "status" in changed:
            action = changed["status"] if changed["status"] != "open" else "reopened"
            update["$push"] = {"history": {"at": run.now, "action": action, "actor": run.source["vendor"]}}
            changed["resolved_at"] = run.now if changed["status"] == "resolved" else None
            if changed["status"] == "resolved":
                event(run, "alert.resolved", doc, _occurrence(doc, "resolved"))
            elif doc.get("status") == "resolved":
                # The condition came back (the disk filled up again): a rule written for new
                # alerts must see it, so it is a created event again, marked as a reopening.
                event(run, "alert.created", doc, _occurrence(doc, "reopened"),
                      {"status": changed["status"], "severity": changed.get("severity", doc.get("severity")),
                       "reopened": True})
        tracked = {k: [doc.get(k), changed[k]] for k in TRACKED.get(run.entity, ()) if k in changed}
        if run.entity == "tickets" and tracked:
            event(run, "ticket.updated", doc, [changed.get("updated_at"), tracked, doc.get("updated_at")],
                  {"changes": tracked})
        if run.entity == "backup_jobs" and changed.get("last_status") == "failed":
            event(run, "backup.failed", doc, changed.get("last_run_at") or doc.get("last_run_at"),
                  {"error": changed.get("last_error", doc.get("last_error"))})
        changed.setdefault("updated_at", run.now)
        update["$set"] = search_terms_update(COLLECTION[run.entity], changed, doc)
        return update

    def _deleted(self, run: Run, doc: dict) -> list[tuple[str, dict]]:
        """What a vendor-side deletion means here; documents with local meaning are closed, not
        removed (docs/sync.md)."""
        closing = {"tickets": {"status": "closed", "closed_at": doc.get("closed_at") or run.now},
                   "alerts": {"status": "resolved", "resolved_at": run.now},
                   "assets": {"status": "retired"}, "customers": {"status": "churned"},
                   "contracts": {"status": "cancelled"}, "invoices": {"status": "void"},
                   "contacts": {"deleted_at": doc.get("deleted_at") or run.now},
                   "backup_jobs": {"deleted_at": doc.get("deleted_at") or run.now}}
        changes = {k: v for k, v in closing[run.entity].items() if not _same(doc.get(k), v)}
        if not changes:
            return []
        if run.entity == "alerts":
            event(run, "alert.resolved", doc, _occurrence(doc, "resolved"))
        return [(doc["_id"], {"$set": {**changes, "updated_at": run.now}})]

    async def close_missing(self, run: Run) -> None:
        """After a complete snapshot: alerts the vendor no longer lists are resolved and devices
        it no longer lists are retired (when its paging can skip, only those the previous
        snapshot lacked too). Nothing is deleted."""
        if run.entity not in ("alerts", "assets"):
            return
        query = {"status": {"$ne": "resolved"}} if run.entity == "alerts" else {"status": {"$ne": "retired"}}
        known = await self._storage.sync.source_external_ids(run.slug, COLLECTION[run.entity],
                                                             run.source_id, query)
        updates = []
        for external_id, doc in known.items():
            if external_id in run.seen:
                continue
            if not run.stable and external_id not in run.missing_before:
                run.missing.append(external_id)
                continue
            if run.entity == "assets" and any(r.get("source_id") != run.source_id for r in doc.get("refs") or []):
                # Another source still knows the device (its RMM and its backup appliance): this
                # source lets go of it; retiring it would flip it back at the other's next run.
                updates.append((doc["_id"], {"$pull": {"refs": {"source_id": run.source_id}}}))
                run.counts.closed += 1
                continue
            closing = self._deleted(run, doc)
            if not closing:
                continue
            updates += closing
            run.counts.closed += 1
            if run.entity == "alerts":
                updates[-1][1]["$push"] = {"history": {"at": run.now, "action": "resolved",
                                                       "actor": run.source["vendor"]}}
        await self._storage.sync.update(run.slug, COLLECTION[run.entity], updates)

    async def _plan_messages(self, run: Run, threads: list[tuple[dict, list[Record]]],
                             new_tickets: set[str]) -> tuple[list, list, list]:
        """The new messages of a page of tickets, read in a handful of round trips for the whole
        page: (adopted: refs to add to messages we hold, fresh: messages to insert, counts:
        message_count updates). A ticket about to be inserted gets its count in its own document
        (one bulk update of 500 tickets costs more than inserting them on SecantusDB)."""
        sync = self._storage.sync
        # Only the threads of tickets stored before can have messages stored: messages are
        # written after their ticket, and a ticket is never removed by sync. On a first sync this
        # skips a lookup of every message id (2 s a page at 10,000 tickets on SecantusDB).
        known = await sync.by_refs(run.slug, "ticket_messages", run.source_id,
                                   [c.external_id for ticket, children in threads
                                    if ticket["_id"] not in new_tickets for c in children])
        threads = [(ticket, [c for c in children if c.external_id not in known and not c.deleted])
                   for ticket, children in threads]
        threads = [(ticket, children) for ticket, children in threads if children]
        held: dict[str, list[dict]] = {}
        older = [ticket["_id"] for ticket, _ in threads if ticket["_id"] not in new_tickets]
        for message in await sync.messages_of(run.slug, older) if older else []:
            held.setdefault(message["ticket_id"], []).append(message)
        matched = {doc["_id"] for doc in known.values()}
        adopted, fresh, counts = [], [], []
        for ticket, children in threads:
            mine = held.get(ticket["_id"], [])
            # A message we already hold under no (or another) id of this vendor — one Vectis
            # posted itself before the vendor gave it an id, or one from a vendor whose comments
            # have no stable id (Atera) — is the same text with the same visibility: adopt it,
            # never store the vendor's copy a second time.
            # A thread may say the same thing twice ("Any update?"): one held message per copy.
            local: dict[tuple, list[dict]] = {}
            for m in mine:
                if m["_id"] not in matched:
                    local.setdefault((m.get("body"), m.get("is_internal")), []).append(m)
            added = 0
            for child in children:
                copies = local.get((child.fields.get("body"), child.fields.get("is_internal", False)))
                same = copies.pop(0) if copies else None
                if same is not None:
                    adopted.append((same["_id"], {"$push": {"refs": run.ref(child.external_id)}}))
                    continue
                added += 1
                fresh.append({"_id": new_id("msg"), "ticket_id": ticket["_id"], "is_internal": False,
                              "body": "", "author": {"kind": "system", "name": run.source["vendor"],
                                                     "email": None},
                              "created_at": run.now, **child.fields, "refs": [run.ref(child.external_id)]})
            if ticket["_id"] in new_tickets:
                ticket["message_count"] = added
            elif added:
                counts.append((ticket["_id"], {"$set": {"message_count": len(mine) + added}}))
        return adopted, fresh, counts
