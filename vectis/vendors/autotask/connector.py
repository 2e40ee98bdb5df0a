"""Autotask PSA: tickets in a queue, ticket notes whose `publish` picklist sets visibility,
closing by moving the ticket to the system "Complete" status.

Base URL: `https://webservicesN.autotask.net/ATServicesRest/V1.0` (`zone_base_url` finds N from
the unauthenticated zoneInformation look-up). Auth: the ApiIntegrationCode, UserName and Secret
headers on every call. Credentials: username, secret, integration_code, and optionally queue_id
(otherwise the first active queue picklist value).

Writes answer only `{"itemId": n}`, so after a create the connector reads the new ticket/note back
(read-only, errors ignored) to learn its number and creation time.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from ..base import (
    TICKET_VERBS,
    CloseDraft,
    Connector,
    NoteDraft,
    TicketDraft,
    VendorCall,
    VerbResult,
    floor_second,
    vendor_time,
)
from ..errors import VendorError
from ..http import VendorHttp
from .formats import DEFAULT_PRIORITY, PRIORITY_WORDS, at_time
from .reader import AutotaskReader

ZONE_LOOKUP = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
TITLE_MAX, DESCRIPTION_MAX, NOTE_TITLE_MAX = 255, 8000, 250
MAX_RECORDS = 500
NEW, COMPLETE = 1, 5                 # system ticket statuses
PUBLISH_ALL, PUBLISH_INTERNAL = 1, 2  # note publish picklist: customer-visible / internal team
# Stock status labels, for when the tenant's status picklist has not been read.
STOCK_STATUS = {1: "New", 5: "Complete", 7: "Waiting Customer", 8: "In Progress",
                9: "Waiting Materials", 10: "Dispatched", 11: "Escalate", 12: "Waiting Vendor",
                13: "Waiting Approval", 17: "On Hold"}
# Status labels are tenant-editable text; "new" is checked last ("Waiting on new parts" waits).
STATUS_WORDS = ((("wait", "hold", "pending", "approval"), "waiting"),
                (("progress", "dispatched", "escalate"), "in_progress"),
                (("resolved",), "resolved"), (("new",), "new"))


async def zone_base_url(http: VendorHttp, username: str, lookup_url: str = ZONE_LOOKUP) -> str:
    """`.../ATServicesRest/V1.0` of the zone that hosts `username` (no credentials needed)."""
    response = await http.request("autotask", "GET", lookup_url, idempotent=True,
                                  params={"user": username})
    url = response.body.get("url") if isinstance(response.body, dict) else None
    if not url:
        raise VendorError("autotask", "zoneInformation has no url", status=response.status,
                          retry_safe=True)
    return url.rstrip("/") + "/V1.0"


class AutotaskConnector(AutotaskReader, Connector):
    vendor = "autotask"
    kind = "psa"
    verbs = frozenset(TICKET_VERBS)
    missing: dict[str, str] = {}   # the public matrix lists no absent tools for Autotask
    # Invoices carry no change stamp, so they are read whole every run.
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "incremental", "contacts": "incremental", "tickets": "incremental",
        "contracts": "incremental", "invoices": "snapshot"}

    def __init__(self, base_url: str, credentials: dict, http: VendorHttp, settings=None):
        super().__init__(base_url, credentials, http, settings)
        self._fields: dict[str, dict[str, dict]] = {}   # entity -> field name -> field info

    async def auth_headers(self) -> dict[str, str]:
        c = self.credentials
        return {"ApiIntegrationCode": c["integration_code"], "UserName": c["username"],
                "Secret": c["secret"], "Accept": "application/json"}

    # --- look-ups ---------------------------------------------------------------------------
    async def _get(self, path: str, params: dict | None = None):
        return (await self.send(VendorCall("GET", path, params=params), idempotent=True)).body

    async def picklist(self, entity: str, name: str) -> list[dict]:
        """Active values of a picklist field, read once per connector."""
        if entity not in self._fields:
            body = await self._get(f"/{entity}/entityInformation/fields")
            self._fields[entity] = {f["name"]: f for f in (body or {}).get("fields", [])}
        values = (self._fields[entity].get(name) or {}).get("picklistValues") or []
        return sorted((v for v in values if v.get("isActive", True)),
                      key=lambda v: v.get("sortOrder") or 0)

    async def priority_value(self, priority: str) -> int:
        for value in await self.picklist("Tickets", "priority"):
            label = str(value.get("label", "")).lower()
            if any(word in label for word in PRIORITY_WORDS.get(priority, ())):
                return int(value["value"])
        return DEFAULT_PRIORITY.get(priority, DEFAULT_PRIORITY["medium"])

    async def queue_id(self) -> int:
        if self.credentials.get("queue_id"):
            return int(self.credentials["queue_id"])
        queues = await self.picklist("Tickets", "queueID")
        if not queues:
            raise VendorError(self.vendor, "no active ticket queue to file tickets in",
                              retry_safe=True)
        return int(queues[0]["value"])

    async def note_type(self) -> int:
        types = await self.picklist("TicketNotes", "noteType")
        chosen = next((t for t in types if t.get("isDefaultValue")), types[0] if types else None)
        return int(chosen["value"]) if chosen else 1

    def canonical_status(self, status) -> str:
        if status == COMPLETE:
            return "closed"
        field = self._fields.get("Tickets", {}).get("status") or {}
        label = next((str(v.get("label", "")) for v in field.get("picklistValues") or []
                      if str(v.get("value")) == str(status)), STOCK_STATUS.get(status, ""))
        for words, canonical in STATUS_WORDS:
            if any(word in label.lower() for word in words):
                return canonical
        return "open"

    async def query(self, entity_path: str, filters: list[dict]) -> list[dict]:
        """Every row of `POST {entity_path}/query`, following `nextPageUrl`."""
        call = VendorCall("POST", f"{entity_path}/query",
                          {"filter": filters, "maxRecords": MAX_RECORDS})
        rows: list[dict] = []
        while True:
            # A query POST changes nothing, so it may be retried like a GET.
            body = (await self.send(call, idempotent=True)).body
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise VendorError(self.vendor, f"unexpected answer to {call.path}",
                                  retry_safe=True)
            rows += body["items"]
            next_url = (body.get("pageDetails") or {}).get("nextPageUrl")
            if not next_url or not body["items"]:
                return rows
            call = self._relative(next_url)

    def _relative(self, url: str) -> VendorCall:
        """A `nextPageUrl` as a GET relative to the base URL (Autotask varies the path's case)."""
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if not parts.path.lower().startswith(base.path.lower()):
            raise VendorError(self.vendor, "nextPageUrl outside the API root", retry_safe=True)
        return VendorCall("GET", parts.path[len(base.path):], params=dict(parse_qsl(parts.query)))

    async def _read_back(self, path: str) -> dict | None:
        """The created item, or None: the write already happened, so a failed read must not
        turn it into an error (a retry would duplicate it)."""
        try:
            body = await self._get(path)
        except VendorError:
            return None
        return body.get("item") if isinstance(body, dict) else None

    # --- create_ticket ----------------------------------------------------------------------
    async def _plan_create_ticket(self, draft: TicketDraft) -> list[VendorCall]:
        body = {"companyID": _int(draft.company_ref, "company"),
                "title": draft.subject[:TITLE_MAX],
                "description": draft.description[:DESCRIPTION_MAX],
                "status": NEW, "priority": await self.priority_value(draft.priority),
                "queueID": await self.queue_id()}
        if draft.contact_ref:
            body["contactID"] = _int(draft.contact_ref, "contact")
        return [VendorCall("POST", "/Tickets", body)]

    async def _perform_create_ticket(self, draft: TicketDraft) -> VerbResult:
        [call] = await self._plan_create_ticket(draft)
        response = await self.send(call, idempotent=False)
        item_id = response.body.get("itemId") if isinstance(response.body, dict) else None
        if item_id is None:
            raise self.unexpected("ticket create", response)
        ticket = await self._read_back(f"/Tickets/{item_id}") or {"id": item_id, "status": NEW}
        return self._ticket_result(ticket, response.status)

    async def _recover_create_ticket(self, draft: TicketDraft, since: datetime) -> VerbResult | None:
        title, company = draft.subject[:TITLE_MAX], _int(draft.company_ref, "company")
        since = floor_second(since)
        rows = await self.query("/Tickets", [
            {"op": "eq", "field": "companyID", "value": company},
            {"op": "eq", "field": "title", "value": title},
            {"op": "gte", "field": "createDate", "value": at_time(since)}])
        for ticket in rows:     # the filter is case-insensitive; the match must be exact
            created = vendor_time(ticket.get("createDate"))
            if ticket.get("title") == title and ticket.get("companyID") == company and \
                    created is not None and created >= since:
                await self.picklist("Tickets", "status")     # labels for the status mapping
                return self._ticket_result(ticket, None)
        return None

    def _ticket_result(self, ticket: dict, http_status: int | None) -> VerbResult:
        return VerbResult(external_id=str(ticket["id"]), number=ticket.get("ticketNumber"),
                          status=self.canonical_status(ticket.get("status")),
                          created_at=vendor_time(ticket.get("createDate")),
                          vendor_status=http_status)

    # --- add_note ---------------------------------------------------------------------------
    async def _note_call(self, ticket_id: int, title: str, text: str, publish: int) -> VendorCall:
        return VendorCall("POST", f"/Tickets/{ticket_id}/Notes", {
            "ticketID": ticket_id, "title": title[:NOTE_TITLE_MAX], "description": text,
            "noteType": await self.note_type(), "publish": publish})

    async def _plan_add_note(self, draft: NoteDraft) -> list[VendorCall]:
        first_line = next((line.strip() for line in draft.body.splitlines() if line.strip()), "")
        title = first_line if len(first_line) <= 100 else first_line[:99] + "…"
        return [await self._note_call(_int(draft.ticket_ref, "ticket"), title or "Note",
                                      draft.body, PUBLISH_INTERNAL if draft.internal
                                      else PUBLISH_ALL)]

    async def _perform_add_note(self, draft: NoteDraft) -> VerbResult:
        [call] = await self._plan_add_note(draft)
        response = await self.send(call, idempotent=False)
        item_id = response.body.get("itemId") if isinstance(response.body, dict) else None
        if item_id is None:
            raise self.unexpected("note create", response)
        note = await self._read_back(f"{call.path}/{item_id}") or {"id": item_id}
        return _note_result(note, response.status)

    async def _recover_add_note(self, draft: NoteDraft, since: datetime) -> VerbResult | None:
        since = floor_second(since)
        publish = PUBLISH_INTERNAL if draft.internal else PUBLISH_ALL
        rows = await self.query("/TicketNotes", [
            {"op": "eq", "field": "ticketID", "value": _int(draft.ticket_ref, "ticket")},
            {"op": "eq", "field": "publish", "value": publish},
            {"op": "gte", "field": "createDateTime", "value": at_time(since)}])
        for note in rows:       # long text is compared here, not in the filter
            created = vendor_time(note.get("createDateTime"))
            if note.get("description") == draft.body and created is not None and created >= since:
                return _note_result(note, None)
        return None

    # --- close_ticket -----------------------------------------------------------------------
    async def _plan_close_ticket(self, draft: CloseDraft) -> list[VendorCall]:
        ticket_id = _int(draft.ticket_ref, "ticket")
        calls = []
        if draft.resolution:
            calls.append(await self._note_call(ticket_id, "Resolution", draft.resolution,
                                               PUBLISH_ALL))
        calls.append(VendorCall("PATCH", "/Tickets", {"id": ticket_id, "status": COMPLETE}))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        status = None
        for call in await self._plan_close_ticket(draft):
            # The note POST creates something; the status PATCH can be repeated safely.
            status = (await self.send(call, idempotent=call.method != "POST")).status
        return VerbResult(external_id=draft.ticket_ref, status="closed", vendor_status=status)


def _note_result(note: dict, http_status: int | None) -> VerbResult:
    return VerbResult(external_id=str(note["id"]), created_at=vendor_time(note.get("createDateTime")),
                      vendor_status=http_status,
                      extra={"ticket_id": str(note["ticketID"])} if "ticketID" in note else {})


def _int(ref: str, what: str) -> int:
    try:
        return int(ref)
    except (TypeError, ValueError):
        raise VendorError("autotask", f"{what} id {ref!r} is not an Autotask id",
                          retry_safe=True) from None


CONNECTOR = AutotaskConnector
