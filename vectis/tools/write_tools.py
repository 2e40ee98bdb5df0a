"""The vendor write tools. Each is a thin shell over the shared dispatch path
(`vectis.writes.dispatcher`), which the rules engine uses too: the parameters here are the
action's parameters plus `dry_run` and `idempotency_key`."""
from __future__ import annotations

from ..mcp.protocol import IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_FLIGHT, RpcError
from ..writes.actions import ALERT_VENDORS, PSA_VENDORS
from ..writes.dispatcher import IdempotencyConflict, IdempotencyInFlight, WriteRequest
from .registry import ToolContext, ToolError, ToolResult, ToolSpec
from .schema import BOOL, STR, TIME, nullable, obj, object_id, out_obj, string

PRIORITIES = ("low", "medium", "high", "critical")
COMMON = {
    "dry_run": {"type": "boolean", "default": False,
                "description": "Preview: resolve the vendor, customer and exact vendor request "
                               "without sending it."},
    "idempotency_key": string("Any string; a retry with the same key within 24 h replays the "
                              "first response instead of writing again.", max_length=200, min_length=1),
}
BODY = string("Text of the note.", max_length=20_000, min_length=1)
NOTE = string("Optional note for the vendor's activity log.", max_length=2000)
OUTPUT = out_obj({
    "dry_run": BOOL, "action": STR, "vendor": STR, "source": out_obj({"id": STR, "name": nullable(STR)}),
    "customer": out_obj({"id": STR, "name": STR}), "target": {"type": "object"},
    "requests": {"type": "array", "items": {"type": "object"}},
    "ticket": {"type": "object"}, "ticket_id": STR, "message_id": STR, "alert_id": STR,
    "status": STR, "internal": BOOL, "vendor_note_id": nullable(STR), "closed_at": nullable(STR),
    "request_id": STR,
    # A write waiting for a person (approvals.queue): its handle and where to approve it.
    "approval_id": STR, "approval_url": STR, "expires_at": TIME, "next_step": STR,
}, ("vendor",))


def _handler(action: str):
    async def handle(ctx: ToolContext, arguments: dict) -> dict:
        params = {k: v for k, v in arguments.items() if k not in COMMON}
        principal = ctx.principal
        actor = {**principal.audit_actor(), "name": principal.name}
        request = WriteRequest(slug=ctx.tenant.slug, action=action, params=params, actor=actor,
                               owner=f"{principal.kind}:{principal.user_id}", request_id=ctx.request_id,
                               dry_run=bool(arguments.get("dry_run", False)),
                               idempotency_key=arguments.get("idempotency_key"),
                               customers=principal.customers)
        try:
            gated = await ctx.approvals.gate(ctx, request, arguments)
            if isinstance(gated, dict):      # waiting in the approval queue
                return gated
            request = gated
            outcome = await ctx.writes.execute(request)
        except IdempotencyConflict:
            raise RpcError(IDEMPOTENCY_CONFLICT, "This idempotency_key was already used with other "
                           "arguments. Use a new key for a different call.",
                           {"idempotencyKey": request.idempotency_key}) from None
        except IdempotencyInFlight as exc:
            raise RpcError(IDEMPOTENCY_IN_FLIGHT, str(exc).capitalize() + ".",
                           {"retryAfterSeconds": exc.retry_after}) from None
        if outcome.status == "error":
            raise ToolError(outcome.message)
        if outcome.status == "replayed":
            return ToolResult(outcome.structured, {"vectis/replayed": True,
                                                   "vectis/originalRequestId": outcome.replay_of})
        return outcome.structured
    return handle


def _spec(name: str, title: str, description: str, scope: str, properties: dict,
          required: tuple[str, ...], vendors: frozenset[str], *, destructive: bool = False,
          mfa: bool = False) -> ToolSpec:
    return ToolSpec(name=name, title=title, description=description, scopes=(scope,),
                    input_schema=obj({**properties, **COMMON}, required), output_schema=OUTPUT,
                    handler=_handler(name), read_only=False, destructive=destructive,
                    idempotent=False, open_world=True, requires_mfa=mfa, vendors=vendors,
                    self_audited=True)


TOOLS = [
    _spec("create_ticket", "Create ticket",
          "Create a ticket in the customer's primary PSA (ConnectWise, Autotask, HaloPSA or Atera, "
          "whichever is connected). Supports dry_run and idempotency_key.", "write:tickets",
          {"customer_id": object_id("customer"),
           "subject": string("Ticket subject.", max_length=200, min_length=1),
           "description": string("What the ticket is about.", max_length=20_000, min_length=1),
           "priority": string("Priority (default medium).", enum=PRIORITIES),
           "contact_id": object_id("contact")},
          ("customer_id", "subject", "description"), PSA_VENDORS),
    _spec("reply_to_ticket", "Reply to ticket",
          "Post a customer-visible reply (public note) to an existing PSA ticket. Supports dry_run "
          "and idempotency_key.", "write:notes",
          {"ticket_id": object_id("ticket"), "body": BODY}, ("ticket_id", "body"), PSA_VENDORS),
    _spec("add_internal_note", "Add internal note",
          "Post a staff-only internal note to an existing PSA ticket; customers do not see it. "
          "Supports dry_run and idempotency_key.", "write:notes",
          {"ticket_id": object_id("ticket"), "body": BODY}, ("ticket_id", "body"), PSA_VENDORS),
    _spec("close_ticket", "Close ticket",
          "Move a PSA ticket to its closed status, with resolution_summary as the closing note. "
          "High-trust: the token must be MFA-elevated on /account/mcp.", "write:tickets",
          {"ticket_id": object_id("ticket"),
           "resolution_summary": string("Closing note (customer-visible).", max_length=20_000)},
          ("ticket_id",), PSA_VENDORS, destructive=True, mfa=True),
    _spec("acknowledge_alert", "Acknowledge alert",
          "Acknowledge a NinjaOne alert (POST /v2/alert/{id}/reset, the note as activity data). "
          "NinjaOne has no acknowledged state: this RESETS the condition, the alert leaves "
          "NinjaOne's alert list (the next sync resolves it here) and NinjaOne raises a new alert "
          "if the condition still holds. Only NinjaOne alerts: Vectis offers no alert writes for "
          "Atera, Datto, Kaseya or N-central. Supports dry_run.",
          "write:alerts", {"alert_id": object_id("alert"), "note": NOTE}, ("alert_id",), ALERT_VENDORS),
    _spec("resolve_alert", "Resolve alert",
          "Resolve a NinjaOne alert (DELETE /v2/alert/{id}). At NinjaOne this RESETS the "
          "condition: the alert leaves NinjaOne's alert list, and NinjaOne raises a new alert if "
          "the condition still holds. Only NinjaOne alerts: Vectis offers no alert writes for "
          "Atera, Datto, Kaseya or N-central. Supports dry_run.",
          "write:alerts", {"alert_id": object_id("alert"), "note": NOTE}, ("alert_id",), ALERT_VENDORS,
          destructive=True),
]
