"""HaloPSA simulator: the instance root (`/api/authinfo`, `/auth/token`, `/api/...`), in memory.

Shapes follow Halo's published API (contract.json beside this file): `GET /api/authinfo` names
the auth server (`auth_url`, `tenant_id`), OAuth2 client credentials at `{auth_url}/token`
(`?tenant=` for hosted instances), Bearer tokens on `/api`, array upserts on `POST /api/Tickets`
and `POST /api/Actions` (a one-item array is answered with the saved object), and
`{record_count, <resource>: [...]}` list envelopes with `pageinate/page_no/page_size` paging;
`GET /api/Status` is a plain array. Statuses carry an integer `type` that says nothing about
closing: closed is by id (`closed_ids`, Halo's system Closed is 9). List rows of tickets carry no
`details` (only `GET /api/Tickets/{id}?includedetails=true` does); contracts list only active ones
without `includeinactive=true`, invoices have `lines` only with `includelines=true`. Dates are
UTC with `Z` and 7 fraction digits; an unset date is `1900-01-01T00:00:00`, as Halo writes it.
Errors: Halo publishes no error bodies, so validation problems answer 400 with a plain-text
message, unknown ids 404 plain text, a refused token 401 with an empty body and
`WWW-Authenticate: Bearer`, and 429 without Retry-After (none is documented).
`expire_tokens()` revokes every issued token, as an expiry or a key rotation on the vendor side
would.

Tickets carry `last_update` (any change, including a new action) and answer the changed-since
filter `lastupdatefromdate`; deleted tickets leave the default list and are listed with
`deleted=true`. Tests change objects vendor-side with `touch_ticket`, `delete_ticket`,
`delete_client`, `deactivate_user`, `delete_contract` and `delete_invoice`.
"""
from __future__ import annotations

import copy
import hmac
import secrets
import time
from typing import Any

from aiohttp import web

from ..simkit import Simulator
from .wire import (
    NO_DATE,
    bad_request,
    by_client,
    int_or_none,
    int_param,
    json_array,
    now_text,
    paged,
    saved_answer,
    truthy,
    unset,
    when_param,
)

# `type` is 0 for New and Closed alike on a live tenant: it does not mark closed statuses.
DEFAULT_STATUSES = [
    {"id": 1, "name": "New", "shortname": "New", "type": 0, "sequence": 1},
    {"id": 2, "name": "In Progress", "shortname": "In Prog", "type": 0, "sequence": 2},
    {"id": 3, "name": "Action Required", "shortname": "Action", "type": 0, "sequence": 3},
    {"id": 4, "name": "Waiting on User", "shortname": "Waiting", "type": 0, "sequence": 4},
    {"id": 8, "name": "Resolved", "shortname": "Resolved", "type": 0, "sequence": 8},
    {"id": 9, "name": "Closed", "shortname": "Closed", "type": 0, "sequence": 9},
]
SYSTEM_CLOSED = 9
# Ticket types are per instance; a type may require fields (e.g. a category) on create. These ids
# are examples, not Halo's published defaults.
DEFAULT_TICKET_TYPES = {1: {"name": "Incident", "required": ()},
                        3: {"name": "Service Request", "required": ()},
                        29: {"name": "Change Request", "required": ("category_1",)}}
TICKET_FIELDS = ("summary", "details", "client_id", "site_id", "user_id", "user_name", "user_email",
                 "status_id", "priority_id", "tickettype_id", "agent_id", "team", "category_1")
class HaloPSASimulator(Simulator):
    vendor = "halopsa"
    request_log_prefix = "/api/"

    def __init__(self, *, tenant: str | None = "simtenant", token_lifetime: int = 3600,
                 authinfo: bool = True, auth_root: str | None = None) -> None:
        self.tenant = tenant
        self.token_lifetime = token_lifetime
        self.authinfo_served = authinfo      # False: an instance that does not answer authinfo
        self.auth_root = auth_root           # another origin's auth server (self-hosted split)
        self.credentials: dict[str, str] = {"client_id": "vectis-sim",
                                            "client_secret": secrets.token_urlsafe(24)}
        if tenant:
            self.credentials["tenant"] = tenant
        self.tokens: dict[str, float] = {}            # access token -> expiry (epoch seconds)
        self.statuses = copy.deepcopy(DEFAULT_STATUSES)
        self.closed_ids: set[int] = {SYSTEM_CLOSED}
        self.ticket_types = copy.deepcopy(DEFAULT_TICKET_TYPES)
        self.clients: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.tickets: dict[int, dict] = {}
        self.actions: dict[int, list[dict]] = {}      # ticket id -> actions (ids per ticket)
        self.assets: list[dict] = []
        self.contracts: list[dict] = []
        self.invoices: list[dict] = []
        self._next_ticket = 1000
        super().__init__()

    # --- set-up -------------------------------------------------------------------------------
    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/auth/token", self.token)
        router.add_get("/api/authinfo", self.authinfo)
        router.add_get("/api/AuthInfo", self.authinfo)       # the swagger's spelling
        router.add_get("/api/Status", self.list_statuses)
        router.add_get("/api/Client", self.list_clients)
        router.add_get("/api/Users", self.list_users)
        router.add_get("/api/Tickets", self.list_tickets)
        router.add_post("/api/Tickets", self.post_tickets)
        router.add_get("/api/Tickets/{id}", self.get_ticket)
        router.add_get("/api/Actions", self.list_actions)
        router.add_post("/api/Actions", self.post_actions)
        router.add_get("/api/Asset", self.list_assets)
        router.add_get("/api/ClientContract", self.list_contracts)
        router.add_get("/api/Invoice", self.list_invoices)

    def public_paths(self) -> tuple[str, ...]:
        return (r"/auth/token", r"/api/authinfo", r"/api/AuthInfo")

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        """Halo publishes no error bodies or headers: plain text, an empty 401 with the bearer
        challenge, and no Retry-After on a 429 (`retry_after` is ignored: Halo sends none)."""
        if status == 401:
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return web.Response(status=status, text=message)

    def seed(self, *, clients=(), users=(), tickets=(), actions=(), assets=(), contracts=(),
             invoices=(), statuses=None, closed_ids=None) -> None:
        """Plain Halo-shaped records; missing bookkeeping fields are filled in. `statuses` and
        `closed_ids` replace the instance's statuses (e.g. a renamed or custom closed status)."""
        if statuses is not None:
            self.statuses = [dict(s) for s in statuses]
        if closed_ids is not None:
            self.closed_ids = {int(i) for i in closed_ids}
        for client in clients:
            self.clients[int(client["id"])] = {"inactive": False, **client}
        for user in users:
            self.users[int(user["id"])] = dict(user)
        for ticket in tickets:
            self._store_ticket(dict(ticket))
        for action in actions:
            self._store_action(dict(action))
        self.assets += [dict(a) for a in assets]
        self.contracts += [dict(c) for c in contracts]
        self.invoices += [dict(i) for i in invoices]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # --- vendor-side changes (tests) ------------------------------------------------------------
    def touch_ticket(self, ticket_id: int, **changes) -> dict:
        """Change a ticket as an agent would in Halo's UI (e.g. `status_id=9`): `last_update`
        moves, so the changed-since filter finds it."""
        ticket = self.tickets[int(ticket_id)]
        self._apply(ticket, changes)
        return ticket

    def delete_ticket(self, ticket_id: int) -> None:
        """Halo keeps a deleted ticket (listed with `deleted=true`) and stamps the change."""
        ticket = self.tickets[int(ticket_id)]
        ticket["deleted"] = True
        ticket["last_update"] = now_text()

    def delete_client(self, client_id: int) -> None:
        self.clients.pop(int(client_id))

    def deactivate_user(self, user_id: int) -> None:
        self.users[int(user_id)]["inactive"] = True

    def delete_contract(self, contract_id: int) -> None:
        self.contracts = [c for c in self.contracts if c.get("id") != int(contract_id)]

    def delete_invoice(self, invoice_id: int) -> None:
        self.invoices = [i for i in self.invoices if i.get("id") != int(invoice_id)]

    def state(self) -> dict:
        return {"clients": list(self.clients.values()), "users": list(self.users.values()),
                "tickets": list(self.tickets.values()),
                "actions": {str(k): v for k, v in self.actions.items()}, "log": self.log}

    # --- authentication -----------------------------------------------------------------------
    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None or expiry < time.time():
            return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        # Hosted instances name the tenant in the query; some clients send it in the form.
        tenant = request.query.get("tenant") or form.get("tenant")
        good = (form.get("client_id") == self.credentials["client_id"]
                and hmac.compare_digest(str(form.get("client_secret", "")),
                                        self.credentials["client_secret"])
                and (not self.tenant or tenant == self.tenant))
        if not good:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "The client credentials are invalid."},
                                     status=400)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.time() + self.token_lifetime
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": self.token_lifetime,
                                  "scope": form.get("scope") or "all"})

    async def authinfo(self, request: web.Request) -> web.Response:
        if not self.authinfo_served:
            return web.Response(status=404, text="Not Found")
        root = self.auth_root or f"{request.scheme}://{request.host}"
        return web.json_response({"auth_url": f"{root}/auth", "tenant_id": self.tenant or ""})


    # --- lists --------------------------------------------------------------------------------
    async def list_statuses(self, request: web.Request) -> web.Response:
        return web.json_response(self.statuses)

    async def list_clients(self, request: web.Request) -> web.Response:
        q = request.query
        rows = [c for c in self.clients.values()
                if (truthy(q.get("includeinactive")) or not c.get("inactive"))
                and q.get("search", "").lower() in str(c.get("name", "")).lower()]
        return paged(request, "clients", rows)

    async def list_users(self, request: web.Request) -> web.Response:
        q = request.query
        rows = [u for u in self.users.values()
                if (truthy(q.get("includeinactive")) or not u.get("inactive"))
                and q.get("search", "").lower() in str(u.get("name", "")).lower()]
        if q.get("client_id"):
            wanted = int_param(q["client_id"], "client_id")
            rows = [u for u in rows if u.get("client_id") == wanted]
        return paged(request, "users", rows)

    async def list_tickets(self, request: web.Request) -> web.Response:
        q = request.query
        closed_ids = self.closed_ids
        deleted = truthy(q.get("deleted"))
        rows = [t for t in self.tickets.values() if bool(t.get("deleted")) == deleted]
        if q.get("lastupdatefromdate"):
            floor = when_param(q["lastupdatefromdate"], "lastupdatefromdate")
            rows = [t for t in rows if when_param(t["last_update"], "last_update") >= floor]
        if truthy(q.get("open_only")):
            rows = [t for t in rows if t["status_id"] not in closed_ids]
        if truthy(q.get("closed_only")):
            rows = [t for t in rows if t["status_id"] in closed_ids]
        for key in ("client_id", "status_id", "agent_id"):
            if q.get(key):
                wanted = int_param(q[key], key)
                rows = [t for t in rows if t.get(key) == wanted]
        order = q.get("order", "id")
        if order not in ("id", "dateoccurred"):
            return bad_request(f"Invalid order field {order}")
        rows.sort(key=lambda t: t.get(order) or 0, reverse=truthy(q.get("orderdesc")))
        # `includedetails` is not a list parameter (only GET /api/Tickets/{id} has it): rows
        # never carry the details.
        rows = [{k: v for k, v in t.items() if k != "details"} for t in rows]
        return paged(request, "tickets", rows, max_size=100)

    async def get_ticket(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int_param(request.match_info["id"], "id"))
        if ticket is None:
            return web.Response(status=404, text="Ticket not found")
        if not truthy(request.query.get("includedetails")):
            ticket = {k: v for k, v in ticket.items() if k != "details"}
        return web.json_response(ticket)

    async def list_actions(self, request: web.Request) -> web.Response:
        q = request.query
        if not q.get("ticket_id"):
            return bad_request("ticket_id is required")
        rows = self.actions.get(int_param(q["ticket_id"], "ticket_id"), [])
        if truthy(q.get("excludeprivate")):
            rows = [a for a in rows if not a.get("hiddenfromuser")]
        return web.json_response({"record_count": len(rows), "actions": rows})

    async def list_assets(self, request: web.Request) -> web.Response:
        return paged(request, "assets", by_client(request, self.assets))

    async def list_contracts(self, request: web.Request) -> web.Response:
        rows = by_client(request, self.contracts)
        if not truthy(request.query.get("includeinactive")):
            rows = [c for c in rows if c.get("active", True)]
        return paged(request, "contracts", rows)

    async def list_invoices(self, request: web.Request) -> web.Response:
        rows = by_client(request, self.invoices)
        if not truthy(request.query.get("includelines")):
            rows = [{k: v for k, v in i.items() if k != "lines"} for i in rows]
        return paged(request, "invoices", rows)

    # --- writes -------------------------------------------------------------------------------
    async def post_tickets(self, request: web.Request) -> web.Response:
        items = await json_array(request)
        for item in items:                 # validate all before changing anything
            problem = self._ticket_problem(item)
            if problem is not None:
                return problem
        saved = []
        for item in items:
            if item.get("id"):
                ticket = self.tickets[int(item["id"])]
                self._apply(ticket, {k: item[k] for k in TICKET_FIELDS if k in item})
            else:
                ticket = self._store_ticket({k: item[k] for k in TICKET_FIELDS if k in item})
            saved.append(ticket)
        return saved_answer(saved)

    def _ticket_problem(self, item: Any) -> web.Response | None:
        if not isinstance(item, dict):
            return bad_request("Each ticket must be an object")
        status_ids = {s["id"] for s in self.statuses}
        if item.get("id"):
            if int_or_none(item["id"]) not in self.tickets:
                return web.Response(status=404, text=f"Ticket {item['id']} not found")
        else:
            if not str(item.get("summary") or "").strip():
                return bad_request("Please enter a summary")
            if int_or_none(item.get("client_id")) not in self.clients:
                return bad_request("Please select a valid client")
            kind = self.ticket_types.get(int_or_none(item.get("tickettype_id", 1)))
            if kind is None:
                return bad_request(f"Invalid tickettype_id {item.get('tickettype_id')}")
            for name in kind["required"]:
                if not item.get(name):
                    return bad_request(f"{kind['name']}: please enter a value for {name}")
        if "status_id" in item and item["status_id"] not in status_ids:
            return bad_request(f"Invalid status_id {item['status_id']}")
        if "priority_id" in item and item["priority_id"] not in (1, 2, 3, 4):
            return bad_request(f"Invalid priority_id {item['priority_id']}")
        if item.get("user_id") and int_or_none(item["user_id"]) not in self.users:
            return bad_request(f"Invalid user_id {item['user_id']}")
        return None

    async def post_actions(self, request: web.Request) -> web.Response:
        items = await json_array(request)
        status_ids = {s["id"] for s in self.statuses}
        for item in items:
            if not isinstance(item, dict):
                return bad_request("Each action must be an object")
            if int_or_none(item.get("ticket_id")) not in self.tickets:
                return web.Response(status=404, text=f"Ticket {item.get('ticket_id')} not found")
            if not str(item.get("note") or "").strip() and item.get("new_status") is None:
                return bad_request("Please enter a note")
            if item.get("new_status") is not None and item["new_status"] not in status_ids:
                return bad_request(f"Invalid new_status {item['new_status']}")
        return saved_answer([self._store_action(dict(item)) for item in items])

    # --- state helpers ------------------------------------------------------------------------
    def _store_ticket(self, ticket: dict) -> dict:
        if not ticket.get("id"):
            self._next_ticket += 1
            ticket["id"] = self._next_ticket
        self._next_ticket = max(self._next_ticket, int(ticket["id"]))
        stamp = now_text()
        ticket.setdefault("status_id", 1)
        ticket.setdefault("priority_id", 3)
        ticket.setdefault("tickettype_id", 1)
        ticket.setdefault("dateoccurred", stamp)
        ticket.setdefault("lastactiondate", ticket["dateoccurred"])
        ticket.setdefault("last_update", ticket["lastactiondate"])
        if unset(ticket.get("dateclosed")):
            ticket["dateclosed"] = NO_DATE
        client = self.clients.get(ticket.get("client_id"), {})
        ticket.setdefault("client_name", client.get("name"))
        user = self.users.get(ticket.get("user_id") or 0)
        if user is not None:
            ticket.setdefault("user_name", user.get("name"))
            ticket.setdefault("user_email", user.get("emailaddress"))
        elif ticket.get("user_email"):     # Halo matches the reporter to a user by e-mail
            match = next((u for u in self.users.values()
                          if str(u.get("emailaddress", "")).lower() == ticket["user_email"].lower()), None)
            if match is not None:
                ticket.update(user_id=match["id"], user_name=match.get("name"))
        self.tickets[int(ticket["id"])] = ticket
        self.actions.setdefault(int(ticket["id"]), [])
        return ticket

    def _store_action(self, action: dict) -> dict:
        ticket_id = int(action["ticket_id"])
        existing = self.actions.setdefault(ticket_id, [])
        action.setdefault("id", 1 + max((a["id"] for a in existing), default=0))
        action.setdefault("datetime", now_text())
        action.setdefault("who", "API")
        action.setdefault("outcome", "Note")
        action.setdefault("hiddenfromuser", False)
        existing.append(action)
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            ticket["lastactiondate"] = action["datetime"]
            # A seeded (older) action must not make the ticket look changed now.
            if when_param(action["datetime"], "datetime") > when_param(ticket["last_update"], "last_update"):
                ticket["last_update"] = action["datetime"]
            if action.get("new_status") is not None:
                self._apply(ticket, {"status_id": action["new_status"]})
        return action

    def _apply(self, ticket: dict, changes: dict) -> None:
        ticket.update(changes)
        if "status_id" in changes:
            closing = changes["status_id"] in self.closed_ids
            ticket["dateclosed"] = (now_text() if unset(ticket.get("dateclosed"))
                                    else ticket["dateclosed"]) if closing else NO_DATE
        ticket["lastactiondate"] = ticket["last_update"] = now_text()


SIMULATOR = HaloPSASimulator
