"""What every connector offers, in our canonical terms.

A write goes through three steps that all share one payload builder, so a dry run shows exactly
what a real dispatch sends:
- `plan(verb, draft)`: the vendor requests that would be sent (read-only look-ups allowed, e.g.
  the board's closed status);
- `perform(verb, draft)`: send them and map the vendor's answer back;
- `recover(verb, draft, since)`: after a crash or a lost response, find whether an earlier attempt
  already took effect (the ticket or note exists), so a retry does not create a second one.

Verbs: create_ticket, add_note, close_ticket, acknowledge_alert, resolve_alert. A connector lists
the verbs it supports in `verbs`, and the documented reason for every verb it lacks in `missing`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from .errors import VendorError, VerbUnsupported
from .http import VendorHttp, VendorResponse

TICKET_VERBS = ("create_ticket", "add_note", "close_ticket")
ALERT_VERBS = ("acknowledge_alert", "resolve_alert")
VERBS = TICKET_VERBS + ALERT_VERBS
PRIORITIES = ("low", "medium", "high", "critical")


def vendor_time(value: Any) -> datetime | None:
    """A vendor timestamp as aware UTC: ISO 8601 with `Z`, an offset, or none (taken as UTC, as
    most PSAs mean it); None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def floor_second(value: datetime) -> datetime:
    """Vendors that keep whole seconds: compare `since` rounded down, or the same second is missed."""
    return value.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class SourceSetting:
    """A choice that legitimately differs between tenants of one vendor (the status that closes a
    ticket, the ticket type, the queue): stored on the source, shown by `admin list-sources`, set
    with `admin connect-source ... --setting NAME=VALUE`. `None` as default means "ask the vendor"
    (e.g. the board's first closed status)."""
    name: str
    help: str
    default: str | int | None = None
    kind: type = str                  # str or int

    def parse(self, value: Any) -> str | int:
        if self.kind is int:
            if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
                raise ValueError(f"{self.name} must be a whole number, not {value!r}")
            return int(value)
        text = str(value).strip()
        if not text:
            raise ValueError(f"{self.name} must not be empty")
        return text


def check_settings(vendor: str, declared: tuple[SourceSetting, ...], values: dict | None) -> dict:
    """`values` parsed against the vendor's declared settings; unknown names are refused, so a
    typo never silently leaves the default in force."""
    known = {s.name: s for s in declared}
    out = {}
    for name, value in (values or {}).items():
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ValueError(f"{vendor} has no setting {name!r} (its settings: {names})")
        out[name] = known[name].parse(value)
    return out


@dataclass(frozen=True)
class TicketDraft:
    company_ref: str                  # the vendor's id of the customer (customer.refs for this source)
    subject: str
    description: str
    priority: str = "medium"          # one of PRIORITIES
    requester: dict | None = None     # {name, email}
    contact_ref: str | None = None    # the vendor's id of the requester, when known


@dataclass(frozen=True)
class NoteDraft:
    ticket_ref: str                   # the vendor's ticket id
    body: str
    internal: bool                    # True: staff-only; False: customer-visible


@dataclass(frozen=True)
class CloseDraft:
    ticket_ref: str
    resolution: str | None = None     # posted as the resolution note when given


@dataclass(frozen=True)
class AlertDraft:
    alert_ref: str                    # the vendor's alert id (NinjaOne: the alert uid)
    note: str | None = None


@dataclass(frozen=True)
class VendorCall:
    """One request exactly as it is (or would be) sent; credentials are never part of it."""
    method: str
    path: str                         # relative to the source's base URL
    body: Any = None
    params: dict | None = None
    content_type: str = "application/json"

    def view(self) -> dict:
        out: dict = {"method": self.method, "path": self.path}
        if self.params:
            out["params"] = self.params
        if self.body is not None:
            out["body"] = self.body
        if self.content_type != "application/json":
            out["content_type"] = self.content_type
        return out


@dataclass(frozen=True)
class VerbResult:
    external_id: str | None = None    # the vendor id of what was created (ticket, note)
    number: str | None = None         # the ticket number people see
    status: str | None = None         # canonical ticket status after the call
    created_at: datetime | None = None
    vendor_status: int | None = None  # HTTP status of the decisive call
    extra: dict = field(default_factory=dict)


class Connector:
    vendor: ClassVar[str]
    kind: ClassVar[str]                           # psa | rmm | backup
    verbs: ClassVar[frozenset[str]] = frozenset()
    missing: ClassVar[dict[str, str]] = {}        # verb -> the documented reason it is absent
    settings: ClassVar[tuple[SourceSetting, ...]] = ()
    # What each verb really does at this vendor, in its terms: shown in tools/list's vendor
    # matrix and docs/writes.md (e.g. NinjaOne's "acknowledge" resets the condition).
    effects: ClassVar[dict[str, str]] = {}

    def __init__(self, base_url: str, credentials: dict, http: VendorHttp,
                 settings: dict | None = None):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.http = http
        self.chosen = check_settings(self.vendor, self.settings, settings)

    def setting(self, name: str) -> Any:
        """The source's value of a declared setting, else its default."""
        if name in self.chosen:
            return self.chosen[name]
        return next(s.default for s in self.settings if s.name == name)

    # --- the three steps --------------------------------------------------------------------
    async def plan(self, verb: str, draft) -> list[VendorCall]:
        self._require(verb)
        return await getattr(self, f"_plan_{verb}")(draft)

    async def perform(self, verb: str, draft) -> VerbResult:
        self._require(verb)
        return await getattr(self, f"_perform_{verb}")(draft)

    async def recover(self, verb: str, draft, since: datetime) -> VerbResult | None:
        """The effect of an earlier attempt begun at `since`, if the vendor shows one. Verbs whose
        repetition is harmless (close, acknowledge, resolve) return None: redoing them is safe."""
        self._require(verb)
        finder = getattr(self, f"_recover_{verb}", None)
        return None if finder is None else await finder(draft, since)

    def supports(self, verb: str) -> bool:
        return verb in self.verbs

    def _require(self, verb: str) -> None:
        if verb not in self.verbs:
            reason = self.missing.get(verb) or f"{self.vendor} does not support {verb}"
            raise VerbUnsupported(self.vendor, verb, reason)

    # --- helpers for subclasses ---------------------------------------------------------------
    async def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a call the way this vendor does."""
        raise NotImplementedError

    async def send(self, call: VendorCall, *, idempotent: bool,
                   accept: tuple[int, ...] = ()) -> VendorResponse:
        headers = await self.auth_headers()
        kwargs: dict = {"params": call.params}
        if call.content_type == "application/json":
            kwargs["json"] = call.body
        else:
            kwargs["data"] = call.body
        return await self.http.request(self.vendor, call.method, self.base_url + call.path,
                                       idempotent=idempotent, headers=headers, accept=accept,
                                       throttled=self.throttled, **kwargs)

    def throttled(self, response: VendorResponse) -> bool:
        """Whether an error answer is the vendor's refusal to take the call now (processed
        nothing), for vendors that do not say so with a 429."""
        return False

    def unexpected(self, what: str, response: VendorResponse) -> VendorError:
        return VendorError(self.vendor, f"unexpected answer to {what}", status=response.status,
                           retry_safe=False)
