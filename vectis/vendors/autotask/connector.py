"""Autotask PSA: tickets in a queue, ticket notes whose `publish` picklist sets visibility,
closing by moving the ticket to the system "Complete" status.

Base URL: `https://webservicesN.autotask.net/ATServicesRest/V1.0` (`zone_base_url` finds N from
the unauthenticated zoneInformation look-up). Auth: the ApiIntegrationCode, UserName and Secret
headers on every call. Credentials: username, secret, integration_code.

Per-source setting `queue_id`: the queue new tickets go to (default: the queue picklist's default
value; never the system "Client Portal" queue, and never a queue chosen by its position). The
vendor contract is `contract.json` beside this module.

Writes answer only `{"itemId": n}`, so after a create the connector reads the new ticket/note back
(read-only, errors ignored) to learn its number and creation time.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from ..base import (
    TICKET_VERBS,
    CloseDraft,
    Connector,
    NoteDraft,
    SourceSetting,
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
                9: "Waiting Materials", 10: "Scheduled", 11: "Escalate", 12: "Waiting Vendor",
                13: "Waiting Approval", 17: "On Hold"}
# Status labels are tenant-editable text; "new" is checked last ("Waiting on new parts" waits).
STATUS_WORDS = ((("wait", "hold", "pending", "approval"), "waiting"),
                (("progress", "dispatched", "scheduled", "escalate"), "in_progress"),
                (("resolved",), "resolved"), (("new",), "new"))


async def zone_base_url(http: VendorHttp, username: str, lookup_url: str = ZONE_LOOKUP) -> str:
    """`.../ATServicesRest/V1.0` of the zone that hosts `username` (no credentials needed)."""
    try:
        response = await http.request("autotask", "GET", lookup_url, idempotent=True,
                                      params={"user": username})
    except VendorError as exc:
        if exc.status == 500:
            # Autotask's answer for a blank or unknown API user, whatever the zone.
            raise VendorError("autotask", f"no Autotask zone knows the API user {username!r}: "
                              f"{exc}", status=500, retry_safe=True,
                              hint="check the API user's UserName (its e-mail address) and store "
                                   "it with `{connect} --credentials-stdin`") from None
        raise
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
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("queue_id", "queue (queueID picklist value) new tickets go to (default: "
                      "the picklist's default queue, never the system Client Portal queue)",
                      kind=int),
    )
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "POST /Tickets: a ticket with status New in the source's queue "
                         "(setting queue_id); Autotask answers only its id, so the ticket is "
                         "read back for its number (T<yyyymmdd>.<nnnn>)",
        "add_note": "POST /Tickets/{id}/Notes: a ticket note published to All Autotask Users "
                    "(publish 1, the customer-visible one) or to internal users (publish 2)",
        "close_ticket": "an optional note titled Resolution, then PATCH /Tickets to the system "
                        "status Complete (5) with the ticket's resolution text; Autotask stamps "
                        "completedDate",
    }
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

    def throttled(self, response) -> bool:
        # Autotask refuses a call over its per-endpoint thread limit with error Itgenatr005,
        # sometimes as a 500: nothing was processed, so it is waited out and sent again.
        errors = response.body.get("errors") if isinstance(response.body, dict) else None
        return any("itgenatr005" in str(error).lower() for error in errors or ())

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
        chosen = self.setting("queue_id") or self.credentials.get("queue_id")
        if chosen:
            return int(chosen)
        queues = await self.picklist("Tickets", "queueID")
        default = next((q for q in queues if q.get("isDefaultValue")
                        and not is_client_portal(q)), None)
        if default is None:
            listed = ", ".join(f"{q.get('value')} {q.get('label')!r}" for q in queues) or "none"
            raise VendorError(
                self.vendor, "no default ticket queue to file tickets in (the Client Portal "
                "queue is never used by default)", retry_safe=True,
                hint=f"choose the queue with `{{connect}} --setting queue_id=<value>`; the "
                     f"tenant's active queues are: {listed}")
        return int(default["value"])

    async def note_type(self) -> int:
        types = await self.picklist("TicketNotes", "noteType")
        chosen = next((t for t in types if t.get("isDefaultValue")), None) or next(
            (t for t in types if str(t.get("label", "")).lower() == "task detail"),
            types[0] if types else None)
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
        rows: list[dict] = []
        async for page in self._pages(entity_path, filters, MAX_RECORDS):
            rows += page
        return rows

    async def _write(self, call: VendorCall, *, idempotent: bool):
        """Send a write; a 400 becomes an error with Autotask's messages and the next step."""
        response = await self.send(call, idempotent=idempotent, accept=(400,))
        if response.status == 400:
            raise refused(response.body)
        return response

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
        response = await self._write(call, idempotent=False)
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
        response = await self._write(call, idempotent=False)
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
        patch: dict = {"id": ticket_id, "status": COMPLETE}
        if draft.resolution:
            patch["resolution"] = draft.resolution     # the ticket's own Resolution field
        calls.append(VendorCall("PATCH", "/Tickets", patch))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        status = None
        for call in await self._plan_close_ticket(draft):
            # The note POST creates something; the status PATCH can be repeated safely.
            status = (await self._write(call, idempotent=call.method != "POST")).status
        return VerbResult(external_id=draft.ticket_ref, status="closed", vendor_status=status)


def is_client_portal(value: dict) -> bool:
    return str(value.get("label", "")).strip().lower() == "client portal"


def refused(body) -> VendorError:
    """Autotask's 400 `{"errors": ["..."]}` as a VendorError; a refused picklist value names
    the setting that chooses it."""
    errors = body.get("errors") if isinstance(body, dict) else None
    texts = [str(e) for e in errors or []] or [str((body or {}).get("message") or body or
                                                     "request refused")]
    text = "; ".join(texts)
    hint = ("choose a queue this tenant has with `{connect} --setting queue_id=<value>`"
            if "queueid" in text.lower() else
            "the company or contact is not in Autotask (deleted or merged there?): the next "
            "sync brings Vectis up to date" if "no company" in text.lower()
            or "no contact" in text.lower() else
            "correct the request; Autotask named what it refused")
    return VendorError("autotask", text, status=400, retry_safe=True, hint=hint)


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
