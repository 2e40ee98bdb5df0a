"""Atera read side for the sync engine (contract: `vectis/sync/records.py`).

Every list is paged the Atera way, `page` / `itemsInPage` (at most 50 for tickets, comments and
contacts, 500 elsewhere), until `totalPages`, from the `{items, totalItemCount, page, itemsInPage,
totalPages, ...}` envelope. Atera can filter only tickets by change time, so tickets are
incremental and everything else is a snapshot:
- tickets: the first run lists `GET /tickets`, later runs `GET /tickets/lastmodified?date=<since>`;
  each ticket carries its comments (`GET /tickets/{id}/comments`) as children. A ticket moved to
  Atera's "Deleted" status is reported deleted;
- customers `GET /customers`, contacts `GET /contacts` (an archived end user is reported
  deleted), contracts `GET /contracts`, invoices `GET /billing/invoices`;
- the RMM side: agents `GET /agents` as assets, and the current alerts: `GET /alerts` with
  `alertStatus=Open`, then `alertStatus=Snoozed` (neither spec says what the list holds without
  it). An alert resolved (archived) at Atera is absent, and the snapshot resolves it.
- invoices name their customer only as `To.CompanyName` (the Invoice DTO has no customer id).
Atera's comments have no id of their own: a comment's id here is its ticket id, time and a digest
of its author and text, stable as long as Atera returns the same comment.
"""
from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from ...sync.records import Record
from ..base import floor_second, vendor_time
from ..errors import VendorError
from ..reading import contract_status, threaded

TICKET_STATUSES = {"open": "open", "pending": "waiting", "resolved": "resolved", "closed": "closed"}
SEVERITIES = {"critical": "critical", "warning": "moderate", "information": "info"}
CONTRACT_KINDS = {"retainerflatfee": "managed_services", "remotemonitoring": "managed_services",
                  "onlinebackup": "managed_services", "hourly": "managed_services",
                  "blockhours": "block_hours", "blockmoney": "block_hours",
                  "projectonetimefee": "project", "projecthourlyrate": "project"}
SERVER_TYPES = ("server", "domain controller")
TICKET_PAGE, LIST_PAGE = 50, 500           # Atera's maxima
CONTACT_PAGE = 50                          # the newer spec's maximum for contacts
MAX_PAGES = 10_000                   # a vendor that ignores paging must not keep us reading forever


class AteraRead:
    """Mixed into the Atera connector, whose `_get` (X-API-KEY, retried GET) it uses."""

    read_page_size: ClassVar[int | None] = None     # None: each endpoint's maximum; tests shrink it

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        if entity not in self.SYNC_ENTITIES:         # type: ignore[attr-defined]
            raise ValueError(f"Atera does not sync {entity!r}")
        async for page in getattr(self, f"_read_{entity}")(since):
            if page:
                yield page

    async def _list(self, path: str, limit: int, params: dict | None = None) -> AsyncIterator[list[dict]]:
        size = min(self.read_page_size or limit, limit)
        page = 1
        while True:
            response = await self._get(path, {**(params or {}), "page": page,  # type: ignore[attr-defined]
                                               "itemsInPage": size})
            body = response.body
            items = body.get("items") if isinstance(body, dict) else None
            if items is None and isinstance(body, dict) and body.get("totalItemCount") == 0:
                items = []                 # the newer spec lets `items` be null when empty
            if not isinstance(items, list):
                raise VendorError("atera", f"unexpected answer to GET {path}",
                                  status=response.status, retry_safe=True)
            rows = [row for row in items if isinstance(row, dict)]
            yield rows
            pages = body.get("totalPages")
            more = page < int(pages) if isinstance(pages, int) else bool(body.get("nextLink"))
            if not rows or not more or page >= MAX_PAGES:
                return
            page += 1

    # --- the PSA side -------------------------------------------------------------------------
    async def _read_customers(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._list("/customers", LIST_PAGE):
            yield [Record(str(row["CustomerID"]), {
                "name": str(row.get("CustomerName") or ""),
                "address": {"street": row.get("Address"), "city": row.get("City"),
                            "state": row.get("State"), "postal_code": row.get("ZipCodeStr"),
                            "country": row.get("Country")}}) for row in rows]

    async def _read_contacts(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._list("/contacts", CONTACT_PAGE):
            yield [Record(str(row["EndUserID"]), {
                "name": _name(row.get("Firstname"), row.get("Lastname")) or "",
                "email": _email(row.get("Email")), "phone": row.get("Phone") or None,
                "title": row.get("JobTitle") or None, "is_primary": bool(row.get("IsContactPerson"))},
                links=_links(customer=row.get("CustomerID")), deleted=bool(row.get("Archived")))
                for row in rows]

    async def _read_tickets(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        if since is None:
            pages = self._list("/tickets", TICKET_PAGE)
        else:
            stamp = floor_second(since).isoformat().replace("+00:00", "Z")
            pages = self._list("/tickets/lastmodified", TICKET_PAGE, {"date": stamp})
        async for rows in pages:
            yield await threaded(rows, self._ticket_record)

    async def _ticket_record(self, row: dict) -> Record:
        ticket_id = str(row["TicketID"])
        status = str(row.get("TicketStatus") or "").strip().lower()
        if status == "deleted":
            return Record(ticket_id, deleted=True)
        comments = [c async for rows in self._list(f"/tickets/{ticket_id}/comments", TICKET_PAGE)
                    for c in rows]
        canonical = TICKET_STATUSES.get(status, "open")
        created, resolved = vendor_time(row.get("TicketCreatedDate")), vendor_time(row.get("TicketResolvedDate"))
        # The DTO has no modification time: the ticket last changed at its latest dated event.
        events = [created, resolved, vendor_time(row.get("LastEndUserCommentTimestamp")),
                  vendor_time(row.get("LastTechnicianCommentTimestamp")),
                  *(vendor_time(c.get("Date")) for c in comments)]
        updated = max((e for e in events if e is not None), default=None)
        technician = row.get("TechnicianEmail") or row.get("TechnicianFullName")
        fields: dict[str, Any] = {
            "number": str(row.get("TicketNumber") or ticket_id), "subject": str(row.get("TicketTitle") or ""),
            "status": canonical,
            "requester": {"name": _name(row.get("EndUserFirstName"), row.get("EndUserLastName")),
                          "email": _email(row.get("EndUserEmail"))},
            "assignee": {"name": row.get("TechnicianFullName") or None,
                         "email": _email(row.get("TechnicianEmail"))} if technician else None,
            "created_at": created, "updated_at": updated,
            "closed_at": (resolved or updated) if canonical in ("resolved", "closed") else None}
        if "FirstComment" in row:
            fields["description"] = str(row.get("FirstComment") or "")
        priority = str(row.get("TicketPriority") or "").lower()
        if priority in ("low", "medium", "high", "critical"):
            fields["priority"] = priority
        return Record(ticket_id, fields,
                      links=_links(customer=row.get("CustomerID"), contact=row.get("EndUserID")),
                      children=[_comment(ticket_id, c) for c in comments])

    async def _read_contracts(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        now = datetime.now(UTC)
        async for rows in self._list("/contracts", LIST_PAGE):
            records = []
            for row in rows:
                start, end = vendor_time(row.get("StartDate")), vendor_time(row.get("EndDate"))
                fields: dict[str, Any] = {"name": str(row.get("ContractName") or ""), "start_date": start,
                                          "end_date": end,
                                          "status": contract_status(bool(row.get("Active")), start,
                                                                    end, now)}
                kind = CONTRACT_KINDS.get(str(row.get("ContractType") or "").lower())
                if kind:
                    fields["kind"] = kind
                monthly = _monthly_value(row)
                if monthly is not None:
                    fields["monthly_value"] = monthly
                records.append(Record(str(row["ContractID"]), fields,
                                      links=_links(customer=row.get("CustomerID")),
                                      link_names=_names(row.get("CustomerName"))))
            yield records

    async def _read_invoices(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._list("/billing/invoices", LIST_PAGE):
            records = []
            for row in rows:
                fields: dict[str, Any] = {
                    "number": str(row.get("InvoiceNumberAsString") or row["InvoiceNumber"]),
                    "issued_at": vendor_time(row.get("InvoiceDate")), "total": float(row.get("Total") or 0)}
                currency = str(row.get("Currency") or "").strip().upper()
                if len(currency) == 3 and currency.isalpha():    # Atera may send a symbol ("$")
                    fields["currency"] = currency
                if isinstance(row.get("LineItems"), list):
                    fields["lines"] = [_line(line) for line in row["LineItems"] if isinstance(line, dict)]
                # The invoice DTO names the billed company (`To.CompanyName`), never its id.
                billed = (row.get("To") or {}).get("CompanyName")
                records.append(Record(str(row["InvoiceNumber"]), fields, link_names=_names(billed)))
            yield records

    # --- the RMM side -------------------------------------------------------------------------
    async def _read_assets(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._list("/agents", LIST_PAGE):
            yield [_asset(row) for row in rows]

    async def _read_alerts(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        now, seen = datetime.now(UTC), set()
        for status in ("Open", "Snoozed"):
            async for rows in self._list("/alerts", TICKET_PAGE, {"alertStatus": status}):
                fresh = [row for row in rows if row.get("AlertID") not in seen]
                seen.update(row.get("AlertID") for row in fresh)
                yield [_alert(row, now) for row in fresh]


def _comment(ticket_id: str, comment: dict) -> Record:
    when = vendor_time(comment.get("Date"))
    email = _email(comment.get("Email"))
    name = _name(comment.get("FirstName"), comment.get("LastName"))
    if comment.get("EndUserID"):
        kind = "contact"
    elif comment.get("TechnicianContactID") or email:
        kind = "user"
    else:
        kind = "system"             # automatic comments have neither author id nor address
    text = str(comment.get("Comment") or "")
    digest = hashlib.sha256(f"{email}\n{name}\n{text}".encode()).hexdigest()[:12]
    stamp = when.isoformat(timespec="microseconds") if when else "-"
    return Record(f"{ticket_id}:{stamp}:{digest}", {
        "body": text, "is_internal": bool(comment.get("IsInternal")),
        "author": {"kind": kind, "name": name, "email": email}, "created_at": when})


def _asset(row: dict) -> Record:
    fields: dict[str, Any] = {"name": str(row.get("MachineName") or row.get("AgentName") or ""),
                              "status": "online" if row.get("Online") else "offline",
                              "last_seen_at": vendor_time(row.get("LastSeen"))}
    os_type = str(row.get("OSType") or "").strip().lower()
    if os_type:
        fields["kind"] = "server" if os_type in SERVER_TYPES else \
            "laptop" if os_type == "laptop" else "workstation"
    # Only what the agent reports: a missing value must not blank the one we hold.
    memory = row.get("Memory")
    hardware = _present(manufacturer=row.get("Vendor"), model=row.get("VendorBrandModel"),
                        serial_number=row.get("VendorSerialNumber"), cpu=row.get("Processor"),
                        ram_gb=round(memory / 1024, 1) if isinstance(memory, int | float) and memory else None)
    if hardware:
        fields["hardware"] = hardware
    system = _present(name=row.get("OS"), version=row.get("OSVersion"), build=row.get("OSBuild"))
    if system:
        fields["os"] = system
    addresses = [a for a in row.get("IpAddresses") or () if a]
    if addresses:
        fields["ip_address"] = str(addresses[0])
    return Record(str(row["AgentID"]), fields, links=_links(customer=row.get("CustomerID")),
                  link_names=_names(row.get("CustomerName")))


def _alert(row: dict, now: datetime) -> Record:
    archived = bool(row.get("Archived"))
    resolved_at = vendor_time(row.get("ArchivedDate")) if archived else None
    snoozed = vendor_time(row.get("SnoozedEndDate"))
    status = "resolved" if archived else "acknowledged" if snoozed and snoozed > now else "open"
    fields: dict[str, Any] = {
        "title": str(row.get("Title") or ""), "message": row.get("AlertMessage") or None,
        "status": status, "created_at": vendor_time(row.get("Created")), "resolved_at": resolved_at}
    if resolved_at is not None:
        fields["updated_at"] = resolved_at
    severity = SEVERITIES.get(str(row.get("Severity") or "").strip().lower())
    if severity:
        fields["severity"] = severity
    return Record(str(row["AlertID"]), fields,
                  links=_links(customer=row.get("CustomerID"), asset=row.get("AgentId")),
                  link_names=_names(row.get("CustomerName")))




def _monthly_value(row: dict) -> float | None:
    retainer = row.get("RetainerFlatFeeContract")
    if not isinstance(retainer, dict) or str(retainer.get("BillingPeriod")) != "Monthly":
        return None
    amount = (retainer.get("Rate") or {}).get("Amount")
    if amount is None:
        return None
    return round(float(amount) * float(retainer.get("Quantity") or 1), 2)


def _line(line: dict) -> dict:
    return {"description": str(line.get("Description") or line.get("Product") or ""),
            "quantity": float(line.get("Quantity") or 0), "unit_price": float(line.get("Rate") or 0),
            "amount": float(line.get("Total") or 0)}


def _present(**values: Any) -> dict:
    return {key: value for key, value in values.items() if value not in (None, "")}


def _name(first: Any, last: Any) -> str | None:
    return f"{first or ''} {last or ''}".strip() or None


def _links(**ids: Any) -> dict[str, str]:
    return {name: str(value) for name, value in ids.items() if value not in (None, "", 0)}


def _names(customer: Any) -> dict[str, str]:
    return {"customer": str(customer)} if customer else {}


def _email(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    return text or None
