"""Shared helpers for seeding a vendor simulator from one source's canonical documents: the
`Batch` every vendor's `seed` module maps from, and time, name and id helpers. The entry point
(`seed_from_tenant`) and reading the tenant's documents are in `vectis.simulators.seeding`.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

OPEN_TICKET = ("new", "open", "in_progress", "waiting")

class Batch:
    """One source's docs and what every mapping needs: the source id, vendor ids of what was
    already mapped (by kind and Vectis id), look-ups by id and e-mail, and the counts."""

    def __init__(self, docs: dict[str, list[dict]]):
        self.docs = docs
        self.source_id = _source_id(docs)
        self.counts: Counter = Counter()
        self.ids: dict[str, dict[str, Any]] = {}          # kind -> Vectis id -> vendor id
        self.customers = {c["_id"]: c for c in self.get("customers")}
        self._by_email = {str(c["email"]).lower(): c for c in self.get("contacts") if c.get("email")}

    def get(self, collection: str) -> list[dict]:
        return self.docs.get(collection) or []

    def ref(self, doc: dict) -> str | None:
        return next((r.get("external_id") for r in doc.get("refs") or ()
                     if r.get("source_id") == self.source_id and r.get("external_id")), None)

    def vendor_ids(self, kind: str, docs: Iterable[dict],
                   numeric: bool = True) -> Iterator[tuple[dict, Any]]:
        """(doc, vendor id: an int for numeric vendors, else the text; None when the doc has no
        ref, so the simulator assigns one). Numeric vendors skip (and count) other ids."""
        for doc in docs:
            vendor_id = self.ref(doc)
            if numeric and vendor_id is not None:
                if not str(vendor_id).isdecimal():
                    self.counts[f"skipped_{kind}"] += 1
                    continue
                vendor_id = int(vendor_id)
            self.ids.setdefault(kind, {})[doc["_id"]] = vendor_id
            yield doc, vendor_id

    def companies(self, kind: str, first: int = 1) -> list[tuple[dict, int, dict]]:
        """(customer, numeric vendor id, address): the id of its ref when it has one, else the
        next free number from `first` (customers an RMM knows only through their devices).
        The ids are kept under `kind` and under "companies", which other objects name."""
        pairs = list(self.vendor_ids(kind, self.get("customers")))
        next_free = max([first - 1, *(vendor_id for _, vendor_id in pairs if vendor_id)]) + 1
        ids, out = self.ids.setdefault(kind, {}), []
        self.ids["companies"] = ids
        for doc, vendor_id in pairs:
            if vendor_id is None:
                vendor_id, next_free = next_free, next_free + 1
            ids[doc["_id"]] = vendor_id
            out.append((doc, vendor_id, doc.get("address") or {}))
        return out

    def vendor_id(self, kind: str, vectis_id: str | None) -> Any:
        return self.ids.get(kind, {}).get(vectis_id) if vectis_id else None

    def contact_id(self, kind: str, email: str | None) -> Any:
        """The vendor id (as seeded under `kind`) of the contact with that e-mail, if any."""
        contact = self._by_email.get(str(email or "").lower())
        return self.vendor_id(kind, contact["_id"]) if contact else None

    def thread(self, kind: str, numeric: bool = True) -> Iterator[tuple[dict, int, Any]]:
        """(message, vendor ticket id, vendor message id or None) for the messages of seeded
        tickets, oldest first; messages of a ticket that was left out are skipped too."""
        tickets = self.ids.get("tickets", {})
        messages = sorted(self.get("ticket_messages"), key=lambda m: (m["ticket_id"], m["created_at"]))
        for message in messages:
            if tickets.get(message["ticket_id"]) is None:
                self.counts[f"skipped_{kind}"] += 1
                continue
            for doc, vendor_id in self.vendor_ids(kind, [message], numeric):
                yield doc, tickets[message["ticket_id"]], vendor_id

    def seeded(self, kind: str, items: list) -> list:
        self.counts[kind] += len(items)
        return items


def _source_id(docs: dict[str, list[dict]]) -> str | None:
    """The source the docs belong to: the `sources` entry when given, else the source named by
    the most refs (customers may also carry refs to other sources)."""
    named = Counter(r.get("source_id") for items in docs.values() for doc in items
                    for r in doc.get("refs") or ())
    return docs["sources"][0]["_id"] if docs.get("sources") else next(iter(named.most_common(1)),
                                                                      (None,))[0]


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is not None:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment


def utc_text(moment: datetime | None, timespec: str = "seconds", suffix: str = "Z") -> str | None:
    """An ISO-8601 UTC time the way a vendor writes it: precision and suffix ("Z", "+00:00" or
    none) differ between vendors."""
    moment = as_utc(moment)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(timespec=timespec) + suffix


def split_name(name: str | None) -> tuple[str, str]:
    first, _, last = str(name or "").strip().partition(" ")
    return first, last


def with_id(key: str, vendor_id: Any, fields: dict) -> dict:
    """`fields` with the vendor id under `key`, or without it (the simulator assigns one)."""
    return ({key: vendor_id} if vendor_id is not None else {}) | fields


def named(items: Iterable[dict], name: str, key: str = "name") -> dict:
    """The item called `name` in one of the simulator's own lists (statuses, priorities, ...):
    mapping by name keeps the ids whatever the simulator's stock lists say."""
    found = next((item for item in items if str(item.get(key)).lower() == name.lower()), None)
    if found is None:
        raise KeyError(f"the simulator has no {name!r}")
    return found


def login(email: str | None) -> str | None:
    """A PSA member identifier from an operator's e-mail (`ada.admin@x` -> `ada.admin`)."""
    return str(email).partition("@")[0] if email else None


def epoch(moment: datetime | None) -> float | None:
    moment = as_utc(moment)
    return None if moment is None else moment.timestamp()


def live_alerts(batch: Batch) -> list[dict]:
    live = [alert for alert in batch.get("alerts") if alert.get("status") != "resolved"]
    batch.counts["skipped_resolved_alerts"] += len(batch.get("alerts")) - len(live)
    return live


def stable_uuid(vectis_id: str) -> str:
    """A vendor-side GUID the canonical data does not keep (device uids): the same every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vectis:{vectis_id}"))


def is_server(asset: dict) -> bool:
    return asset.get("kind") in ("server", "virtual_machine")


def os_name(asset: dict) -> str:
    return str((asset.get("os") or {}).get("name") or "")
