"""The contract between a connector's read side and the sync engine.

A connector that can be synced declares `SYNC_ENTITIES` (entity -> mode) and implements
`async def read(entity, since)`, an async iterator of lists of `Record` (one list per vendor page):

- mode "incremental": `since` is the start of the last successful run minus an overlap (None on
  the first run); the connector asks the vendor only for objects changed since then, where the
  vendor can filter so, and reports deletions it sees as `deleted=True`.
- mode "snapshot": the vendor cannot filter by change time (or the list is small and current,
  e.g. open alerts); `since` is ignored and every run returns the whole current list. Objects of
  this source that a complete snapshot no longer contains are gone at the vendor: the engine
  closes them (an alert is resolved, a device retired); nothing is deleted.

Entities and the canonical fields a Record may carry (names and values as docs/data-model.md;
times aware UTC datetimes; enumerations already mapped to ours; fields the vendor lacks are
simply left out, and the engine never overwrites a field that is not given):

| entity | collection | fields | links |
|---|---|---|---|
| customers | customers | name, status, address{street, city, state, postal_code, country} | — |
| contacts | contacts | name, email, phone, title, is_primary | customer |
| tickets | tickets | number, subject, description, status, priority, requester{name, email}, assignee{name, email} or None, created_at, updated_at, closed_at | customer, contact |
| (messages of a ticket, in `Record.children`) | ticket_messages | body, is_internal, author{kind: contact/user/system, name, email}, created_at | — |
| alerts | alerts | severity, status (open/acknowledged/resolved), title, message, created_at, updated_at, resolved_at | customer, asset |
| assets | assets | name, kind, status, hardware{manufacturer, model, serial_number, cpu, ram_gb, disk_gb}, os{name, version, build}, ip_address, last_seen_at, site{name, address} | customer |
| contracts | contracts | name, kind, status, start_date, end_date, monthly_value, auto_renew | customer |
| invoices | invoices | number, status, issued_at, due_at, currency, total, balance, lines[] | customer |
| backup_jobs | backup_jobs | name, last_status (success/warning/failed/running), last_run_at, last_success_at, last_error, size_gb | customer, asset |

`links` name other objects of the SAME source by their vendor id (e.g. a ticket's company id);
the engine resolves them to Vectis ids. A customer link that cannot be resolved by id may carry
a name in `link_names["customer"]` (RMM and backup tools name the client rather than share the
PSA's id), which the engine matches against existing customers' names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENTITIES = ("customers", "contacts", "tickets", "alerts", "assets", "contracts", "invoices",
            "backup_jobs")
COLLECTION = {"customers": "customers", "contacts": "contacts", "tickets": "tickets",
              "alerts": "alerts", "assets": "assets", "contracts": "contracts",
              "invoices": "invoices", "backup_jobs": "backup_jobs"}
# Dependencies first: links resolve only to objects already synced.
ORDER = ("customers", "contacts", "assets", "tickets", "alerts", "contracts", "invoices",
         "backup_jobs")


@dataclass
class Record:
    external_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)          # "customer" -> vendor id, …
    link_names: dict[str, str] = field(default_factory=dict)     # "customer" -> client name
    children: list[Record] = field(default_factory=list)         # a ticket's messages
    deleted: bool = False
