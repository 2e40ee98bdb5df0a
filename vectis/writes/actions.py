"""The write actions: the parity surface shared by MCP write tools and rules-engine actions.

Each action resolves its parameters to a target in this tenant, the vendor source that owns it
and the connector's draft, and afterwards reflects the vendor's answer into the tenant database.
Lookups only ever read this tenant's database; an id of another tenant is simply not found.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..ids import new_id
from ..tools.registry import ToolError, not_found
from ..vendors.base import AlertDraft, CloseDraft, Connector, NoteDraft, TicketDraft, VerbResult
from ..vendors.errors import NotConfigured

PSA_VENDORS = frozenset({"connectwise", "autotask", "halopsa", "atera"})
ALERT_VENDORS = frozenset({"ninjaone"})


@dataclass
class WriteContext:
    slug: str
    storage: Any             # reflecting the vendor's answer writes through this
    connections: Any
    actor: dict              # audit actor: kind, user_id, email, name, credential_id, ...
    now: datetime
    lookup: Any = None       # resolving reads through the caller's customer scope (Storage.scoped)

    def __post_init__(self):
        if self.lookup is None:
            self.lookup = self.storage


@dataclass
class Resolved:
    action: str
    verb: str
    draft: Any
    source: dict
    connector: Connector
    target: dict                               # audit target: {kind, id, uuid}
    customer: dict | None = None
    ticket: dict | None = None
    alert: dict | None = None
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        out = {"vendor": self.source["vendor"],
               "source": {"id": self.source["_id"], "name": self.source.get("name")}}
        if self.customer is not None:
            out["customer"] = {"id": self.customer["_id"], "name": self.customer["name"]}
        return out


def external_id(doc: dict, source_id: str) -> str | None:
    for ref in doc.get("refs") or []:
        if ref.get("source_id") == source_id and ref.get("external_id"):
            return str(ref["external_id"])
    return None


async def _connector(ctx: WriteContext, source_id: str | None, what: str) -> tuple[dict, Connector]:
    if not source_id:
        raise ToolError(f"{what} is not linked to a connected vendor tool, so there is nothing to "
                        "write to.")
    try:
        return await ctx.connections.connector(ctx.slug, source_id)
    except NotConfigured as exc:
        raise ToolError(f"Cannot write to the vendor: {exc}. Connect the source first.") from None


def _ticket_target(ticket: dict) -> dict:
    # customer_id: a customer-scoped principal reads the rows of its customers only (storage.scoped).
    return {"kind": "ticket", "id": ticket["_id"], "uuid": ticket.get("uuid"),
            "customer_id": ticket.get("customer_id")}


async def _psa_ticket(ctx: WriteContext, ticket_id: str) -> tuple[dict, dict, Connector, str]:
    ticket = await ctx.lookup.tickets.get(ctx.slug, ticket_id)
    if ticket is None:
        raise not_found("ticket", "id", ticket_id, "list_open_tickets or search_tickets")
    if not ticket.get("source_id"):
        raise ToolError(f"Ticket {ticket['number']} came from the customer portal and lives in no "
                        "PSA, so it cannot be changed through a vendor.")
    source, connector = await _connector(ctx, ticket["source_id"], f"Ticket {ticket['number']}")
    ref = external_id(ticket, source["_id"])
    if ref is None:
        raise ToolError(f"Ticket {ticket['number']} has no id in {source.get('name')} yet; wait for "
                        "the next sync and retry.")
    return ticket, source, connector, ref


def _author(ctx: WriteContext) -> dict:
    return {"kind": "user", "name": ctx.actor.get("name") or ctx.actor.get("email") or "Vectis",
            "email": ctx.actor.get("email")}


class CreateTicket:
    name, verb = "create_ticket", "create_ticket"

    async def resolve(self, ctx: WriteContext, params: dict) -> Resolved:
        customer = await ctx.lookup.customers.get(ctx.slug, params["customer_id"])
        if customer is None:
            raise not_found("customer", "id", params["customer_id"], "list_customers")
        source, connector = await _connector(ctx, customer.get("primary_psa_source_id"),
                                             f"Customer {customer['name']}")
        company = external_id(customer, source["_id"])
        if company is None:
            raise ToolError(f"{customer['name']} has no company in {source.get('name')} yet; wait "
                            "for the next sync and retry.")
        contact = await self._requester(ctx, customer, params.get("contact_id"))
        requester = {"name": contact["name"], "email": contact.get("email")} if contact else None
        draft = TicketDraft(company_ref=company, subject=params["subject"],
                            description=params["description"],
                            priority=params.get("priority", "medium"), requester=requester,
                            contact_ref=external_id(contact, source["_id"]) if contact else None)
        return Resolved(self.name, self.verb, draft, source, connector, customer=customer,
                        target={"kind": "customer", "id": customer["_id"], "uuid": None,
                                "customer_id": customer["_id"]},
                        extra={"requester": requester})

    @staticmethod
    async def _requester(ctx: WriteContext, customer: dict, contact_id: str | None) -> dict | None:
        wanted = contact_id or customer.get("primary_contact_id")
        if not wanted:
            return None
        contact = await ctx.lookup.customers.contact(ctx.slug, wanted)
        if contact is not None and contact.get("customer_id") != customer["_id"]:
            contact = None
        if contact is None and contact_id:
            raise not_found("contact", "id", contact_id, "get_customer")
        return contact

    async def reflect(self, ctx: WriteContext, r: Resolved, result: VerbResult) -> dict:
        now, source = ctx.now, r.source
        ticket_id = new_id("tkt")
        requester = r.extra["requester"] or {"name": _author(ctx)["name"], "email": ctx.actor.get("email")}
        ticket = {
            "_id": ticket_id, "uuid": str(uuid.uuid4()), "number": result.number or result.external_id,
            "customer_id": r.customer["_id"], "source_id": source["_id"], "origin": "psa",
            "subject": r.draft.subject, "description": r.draft.description,
            "status": result.status or "new", "priority": r.draft.priority,
            "requester": {"name": requester["name"], "email": (requester.get("email") or "").lower() or None},
            "assignee": None, "created_at": result.created_at or now, "updated_at": now,
            "closed_at": None, "message_count": 1,
            "refs": [{"source_id": source["_id"], "external_id": result.external_id}],
        }
        message = {"_id": new_id("msg"), "ticket_id": ticket_id, "author": _author(ctx),
                   "body": r.draft.description, "is_internal": False, "created_at": ticket["created_at"],
                   "refs": []}
        stored = await ctx.storage.vendor_changes.ticket_created(ctx.slug, ticket, message)
        r.target = _ticket_target(stored)
        return {"ticket": {"id": stored["_id"], "uuid": stored["uuid"], "number": stored["number"],
                           "status": stored["status"], "subject": stored["subject"],
                           "customer_id": stored["customer_id"]},
                **r.summary()}


class AddNote:
    def __init__(self, name: str, internal: bool):
        self.name, self.verb, self.internal = name, "add_note", internal

    async def resolve(self, ctx: WriteContext, params: dict) -> Resolved:
        ticket, source, connector, ref = await _psa_ticket(ctx, params["ticket_id"])
        draft = NoteDraft(ticket_ref=ref, body=params["body"], internal=self.internal)
        return Resolved(self.name, self.verb, draft, source, connector, ticket=ticket,
                        target=_ticket_target(ticket))

    async def reflect(self, ctx: WriteContext, r: Resolved, result: VerbResult) -> dict:
        message = {"_id": new_id("msg"), "ticket_id": r.ticket["_id"], "author": _author(ctx),
                   "body": r.draft.body, "is_internal": self.internal,
                   "created_at": result.created_at or ctx.now,
                   "refs": ([{"source_id": r.source["_id"], "external_id": result.external_id}]
                            if result.external_id else [])}
        await ctx.storage.vendor_changes.message_added(ctx.slug, r.ticket["_id"], message, ctx.now)
        return {"ticket_id": r.ticket["_id"], "message_id": message["_id"],
                "internal": self.internal, "vendor_note_id": result.external_id, **r.summary()}


class CloseTicket:
    name, verb = "close_ticket", "close_ticket"

    async def resolve(self, ctx: WriteContext, params: dict) -> Resolved:
        ticket, source, connector, ref = await _psa_ticket(ctx, params["ticket_id"])
        if ticket["status"] == "closed":
            raise ToolError(f"Ticket {ticket['number']} is already closed.")
        draft = CloseDraft(ticket_ref=ref, resolution=params.get("resolution_summary"))
        return Resolved(self.name, self.verb, draft, source, connector, ticket=ticket,
                        target=_ticket_target(ticket))

    async def reflect(self, ctx: WriteContext, r: Resolved, result: VerbResult) -> dict:
        if r.draft.resolution:
            message = {"_id": new_id("msg"), "ticket_id": r.ticket["_id"], "author": _author(ctx),
                       "body": r.draft.resolution, "is_internal": False, "created_at": ctx.now,
                       "refs": []}
            await ctx.storage.vendor_changes.message_added(ctx.slug, r.ticket["_id"], message, ctx.now)
        stored = await ctx.storage.vendor_changes.ticket_closed(ctx.slug, r.ticket, ctx.now)
        return {"ticket_id": r.ticket["_id"], "status": stored["status"],
                "closed_at": stored["closed_at"], **r.summary()}


class AlertAction:
    def __init__(self, name: str, verb: str, status: str, history: str):
        self.name, self.verb, self.status, self.history = name, verb, status, history

    async def resolve(self, ctx: WriteContext, params: dict) -> Resolved:
        alert = await ctx.lookup.alerts.get(ctx.slug, params["alert_id"])
        if alert is None:
            raise not_found("alert", "id", params["alert_id"], "list_alerts")
        if alert["status"] == "resolved" or alert["status"] == self.status:
            raise ToolError(f"Alert {alert['_id']} is already {alert['status']}.")
        source, connector = await _connector(ctx, alert.get("source_id"), f"Alert {alert['_id']}")
        ref = external_id(alert, source["_id"])
        if ref is None:
            raise ToolError(f"Alert {alert['_id']} has no id in {source.get('name')}.")
        draft = AlertDraft(alert_ref=ref, note=params.get("note"))
        return Resolved(self.name, self.verb, draft, source, connector, alert=alert,
                        target={"kind": "alert", "id": alert["_id"], "uuid": alert.get("uuid"),
                                "customer_id": alert.get("customer_id")})

    async def reflect(self, ctx: WriteContext, r: Resolved, result: VerbResult) -> dict:
        entry = {"at": ctx.now, "action": self.history,
                 "actor": ctx.actor.get("email") or ctx.actor.get("kind")}
        stored = await ctx.storage.vendor_changes.alert_changed(ctx.slug, r.alert["_id"], self.status,
                                                                entry, ctx.now)
        out = {"alert_id": r.alert["_id"], "status": stored["status"] if stored else self.status,
               **r.summary()}
        if result.extra.get("effect") == "reset":
            out["vendor_effect"] = _ninjaone_reset(self.status, result)
        return out


def _ninjaone_reset(status: str, result: VerbResult) -> dict:
    """What NinjaOne really did: both alert verbs reset the condition (it has no acknowledged or
    resolved state); the alert left its list of triggered alerts and comes back as a new alert
    while the condition holds. Said in the tool's answer so nobody reads more into `status`."""
    done = ("NinjaOne no longer listed this alert (already reset there, or its condition cleared)"
            if result.extra.get("already") else
            "NinjaOne reset the condition: the alert left NinjaOne's active alert list")
    here = ("it stays acknowledged in Vectis until the next sync, which resolves it"
            if status != "resolved" else "it is resolved in Vectis")
    return {"action": "reset", "listed": False, "already": bool(result.extra.get("already")),
            "summary": f"{done}; {here}. NinjaOne has no acknowledged state, and it raises a new "
                       "alert if the condition still holds."}


ACTIONS = {a.name: a for a in (
    CreateTicket(), AddNote("reply_to_ticket", internal=False),
    AddNote("add_internal_note", internal=True), CloseTicket(),
    AlertAction("acknowledge_alert", "acknowledge_alert", "acknowledged", "acknowledged"),
    AlertAction("resolve_alert", "resolve_alert", "resolved", "resolved"),
)}
