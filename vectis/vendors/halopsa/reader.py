"""HaloPSA read side for the sync engine (contract: `vectis/sync/records.py`).

Every list is paged the Halo way, `pageinate=true&page_no=N&page_size=M`, until `record_count`
rows have been seen. Halo can filter only tickets by change time (`lastupdatefromdate`, compared
with the ticket's `last_update`), so tickets are incremental and the rest are snapshots:
- customers: `GET /api/Client?includeinactive=true`; an inactive client is a churned customer
  (that is how Halo keeps one), not a deleted one;
- contacts: `GET /api/Users?includeinactive=true`; an inactive user is reported deleted;
- tickets: `GET /api/Tickets?order=id[&lastupdatefromdate=...]`, each with its thread from
  `GET /api/Actions?ticket_id=` (`hiddenfromuser` = internal). `includedetails` exists only on
  `GET /api/Tickets/{id}`, so a row without `details` is completed from there (a few tickets at
  once). Halo keeps deleted tickets apart (`deleted=true`): an incremental run lists the ones
  deleted since and reports them. Closed = the closing status (formats.py), not `type`;
- contracts: `GET /api/ClientContract?includeinactive=true` (without it Halo lists only active
  ones, and an expired contract would look deleted); invoices: `GET /api/Invoice?includelines=true`.
Halo writes UTC, with `Z` or without an offset (read as UTC), and "no date" as 1900-01-01 or
0001-01-01 (read as none, formats.halo_date).
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from ...sync.records import Record
from ..base import VendorCall, floor_second
from ..errors import VendorError
from ..reading import contract_status, threaded
from .formats import halo_date

vendor_time = halo_date      # every Halo date in this module: "no date" values read as None
# Who wrote an action: Halo names the author in `who`; the outcome tells an end user's update
# apart, and automatic actions are written under the product's own name.
CONTACT_OUTCOMES = ("end-user update", "end user update", "user update", "email from user")
SYSTEM_AUTHORS = ("system", "halopsa", "halo", "automation", "halo integrator")
PAID = 2                                                             # invoice paymentstatus
MAX_PAGES = 10_000                   # a vendor that ignores paging must not keep us reading forever


class HaloPSARead:
    """Mixed into the HaloPSA connector, whose `_call` (Bearer token, one retry on a 401),
    `_status_list`, `_status_of` and `_priority_ids` it uses."""

    read_page_size: ClassVar[int] = 100        # Halo's maximum for tickets; tests make it small

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        if entity not in self.SYNC_ENTITIES:   # type: ignore[attr-defined]
            raise ValueError(f"HaloPSA does not sync {entity!r}")
        async for page in getattr(self, f"_read_{entity}")(since):
            if page:
                yield page

    async def _pages(self, path: str, key: str, params: dict[str, Any]) -> AsyncIterator[list[dict]]:
        page, seen = 1, 0
        while True:
            size = self.read_page_size
            query = {**params, "pageinate": "true", "page_no": page, "page_size": size}
            response = await self._call(VendorCall("GET", path, params=query),  # type: ignore[attr-defined]
                                        idempotent=True)
            body = response.body
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise VendorError("halopsa", f"unexpected answer to GET {path}",
                                  status=response.status, retry_safe=True)
            rows = [row for row in body[key] if isinstance(row, dict)]
            yield rows
            seen += len(rows)
            # The vendor may clamp the page size, so the total decides when the list is done;
            # without one, a short page is the last.
            total = _int(body.get("record_count"))
            if not rows or (seen >= total if total is not None else len(rows) < size) \
                    or page >= MAX_PAGES:
                return
            page += 1

    # --- customers and contacts ---------------------------------------------------------------
    async def _read_customers(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._pages("/api/Client", "clients", {"includeinactive": "true"}):
            yield [Record(str(row["id"]), {
                "name": str(row.get("name") or ""),
                "status": "churned" if row.get("inactive") else "active"}) for row in rows]

    async def _read_contacts(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        async for rows in self._pages("/api/Users", "users", {"includeinactive": "true"}):
            records = []
            for row in rows:
                # Halo's Users have `title`, whose meaning Halo does not publish (job title or
                # salutation), so no title is mapped.
                fields = {"name": str(row.get("name") or ""), "email": _email(row.get("emailaddress")),
                          "phone": row.get("phonenumber") or None}
                records.append(Record(str(row["id"]), fields, links=_links(customer=row.get("client_id")),
                                      deleted=bool(row.get("inactive"))))
            yield records

    # --- tickets ------------------------------------------------------------------------------
    async def _read_tickets(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        await self._status_list()                                      # type: ignore[attr-defined]
        names = {v: k for k, v in reversed(self._priority_ids().items())}  # type: ignore[attr-defined]
        params: dict[str, Any] = {"order": "id"}
        if since is not None:
            # Halo compares whole seconds: a floored `since` cannot miss the same second.
            params["lastupdatefromdate"] = _halo_time(floor_second(since))
        async for rows in self._pages("/api/Tickets", "tickets", params):
            yield await threaded(rows, lambda row: self._ticket_record(row, names))
        if since is not None:
            async for rows in self._pages("/api/Tickets", "tickets", {**params, "deleted": "true"}):
                # Trust a row's own flag where it has one, in case the filter also lists live ones.
                yield [Record(str(row["id"]), deleted=True) for row in rows if row.get("deleted", True)]

    async def _ticket_record(self, row: dict, priority_names: dict[int, str]) -> Record:
        if row.get("deleted"):
            return Record(str(row["id"]), deleted=True)
        status = self._status_of(row.get("status_id"))                # type: ignore[attr-defined]
        updated = vendor_time(row.get("last_update") or row.get("lastactiondate"))
        closed_at = None
        if status in ("resolved", "closed"):
            # Halo stamps `dateclosed` for closed-type statuses only; a resolved ticket was
            # resolved when it was last changed.
            closed_at = vendor_time(row.get("dateclosed")) or updated
        fields: dict[str, Any] = {
            "number": str(row["id"]), "subject": str(row.get("summary") or ""), "status": status,
            "requester": {"name": row.get("user_name") or None, "email": _email(row.get("user_email"))},
            "created_at": vendor_time(row.get("dateoccurred")), "updated_at": updated,
            "closed_at": closed_at}
        details = row["details"] if "details" in row else await self._details(row["id"])
        if details is not None:
            fields["description"] = str(details or "")
        priority = priority_names.get(_int(row.get("priority_id")))
        if priority:
            fields["priority"] = priority
        return Record(str(row["id"]), fields,
                      links=_links(customer=row.get("client_id"), contact=row.get("user_id")),
                      children=await self._thread(row))

    async def _details(self, ticket_id: Any) -> str | None:
        """The ticket's `details`, which list rows may lack; None when the ticket is gone."""
        response = await self._call(VendorCall(  # type: ignore[attr-defined]
            "GET", f"/api/Tickets/{int(ticket_id)}", params={"includedetails": "true"}),
            idempotent=True, accept=(404,))
        body = response.body
        if response.status == 404:
            return None
        if not isinstance(body, dict):
            raise VendorError("halopsa", "unexpected answer to GET /api/Tickets/{id}",
                              status=response.status, retry_safe=True)
        return str(body.get("details") or "")

    async def _thread(self, ticket: dict) -> list[Record]:
        response = await self._call(VendorCall("GET", "/api/Actions",  # type: ignore[attr-defined]
                                               params={"ticket_id": ticket["id"]}), idempotent=True)
        body = response.body
        if not isinstance(body, dict) or not isinstance(body.get("actions"), list):
            raise VendorError("halopsa", "unexpected answer to GET /api/Actions",
                              status=response.status, retry_safe=True)
        # Actions without text are Halo's own bookkeeping (status changes, time entries).
        return [_message(action, ticket) for action in body["actions"]
                if isinstance(action, dict) and str(action.get("note") or "").strip()]

    # --- contracts and invoices ---------------------------------------------------------------
    async def _read_contracts(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        now = datetime.now(UTC)
        async for rows in self._pages("/api/ClientContract", "contracts",
                                     {"includeinactive": "true"}):
            records = []
            for row in rows:
                start, end = vendor_time(row.get("start_date")), vendor_time(row.get("end_date"))
                fields: dict[str, Any] = {"name": str(row.get("ref") or ""), "start_date": start,
                                          "end_date": end,
                                          "status": contract_status(bool(row.get("active")), start,
                                                                    end, now)}
                if row.get("periodchargeamount") is not None:
                    fields["monthly_value"] = float(row["periodchargeamount"])
                records.append(Record(str(row["id"]), fields, links=_links(customer=row.get("client_id"))))
            yield records

    async def _read_invoices(self, since: datetime | None) -> AsyncIterator[list[Record]]:
        now = datetime.now(UTC)
        async for rows in self._pages("/api/Invoice", "invoices", {"includelines": "true"}):
            records = []
            for row in rows:
                total, balance = float(row.get("total") or 0), float(row.get("amountdue") or 0)
                due = vendor_time(row.get("duedate"))
                fields: dict[str, Any] = {
                    "number": str(row.get("invoicenumber") or row["id"]),
                    "status": _invoice_status(row, balance, due, now),
                    "issued_at": vendor_time(row.get("invoice_date")), "due_at": due,
                    "total": total, "balance": balance}
                if isinstance(row.get("lines"), list):
                    fields["lines"] = [_line(line) for line in row["lines"] if isinstance(line, dict)]
                records.append(Record(str(row["id"]), fields, links=_links(customer=row.get("client_id"))))
            yield records


def action_ref(ticket_id: Any, action_id: Any) -> str:
    """Our id of a Halo action. Halo numbers actions per ticket (action 3 of ticket 120 and of
    ticket 121 are two actions), so the action id alone would make two notes one."""
    return f"{ticket_id}:{action_id}"


def _message(action: dict, ticket: dict) -> Record:
    who = str(action.get("who") or "").strip()
    outcome = str(action.get("outcome") or "").strip().lower()
    email = None
    if outcome in CONTACT_OUTCOMES:
        kind = "contact"
        # Halo names the author only; the ticket's end user is the one whose address we know.
        if who and who.lower() == str(ticket.get("user_name") or "").lower():
            email = _email(ticket.get("user_email"))
    elif who.lower() in SYSTEM_AUTHORS:
        kind = "system"
    else:
        kind = "user"
    return Record(action_ref(ticket["id"], action["id"]), {
        "body": str(action.get("note") or ""), "is_internal": bool(action.get("hiddenfromuser")),
        "author": {"kind": kind, "name": who or None, "email": email},
        "created_at": vendor_time(action.get("datetime"))})




def _invoice_status(row: dict, balance: float, due: datetime | None, now: datetime) -> str:
    if row.get("posted") is False:
        return "draft"
    if _int(row.get("paymentstatus")) == PAID or balance <= 0:
        return "paid"
    return "overdue" if due is not None and due < now else "open"


def _line(line: dict) -> dict:
    return {"description": str(line.get("item_shortdescription") or line.get("description") or ""),
            "quantity": float(line.get("qty_order") or 0), "unit_price": float(line.get("unit_price") or 0),
            "amount": float(line.get("net_amount") or 0)}


def _links(**ids: Any) -> dict[str, str]:
    return {name: str(value) for name, value in ids.items() if value not in (None, "", 0)}


def _email(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _halo_time(moment: datetime) -> str:
    """A date parameter as Halo's own PowerShell module sends it: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
