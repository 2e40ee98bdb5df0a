"""HaloPSA vocabulary shared by the connector (writes) and the reader (sync): status meaning,
priority ids, Halo's dates and the per-source settings both sides read.

- Closed-ness is by status id. `TStatus.type` is an integer whose values Halo does not publish,
  and a live tenant shows `type: 0` for both New (1) and Closed (9), so it cannot mark a closed
  status. Halo's system Closed status is id 9; a tenant may close with another (setting
  `closed_status_id`). Every other status is read by its name.
- Priorities belong to an SLA in Halo: 1..4 are the default P1..P4, per source in `priority_ids`.
- Halo writes "no date" as `1900-01-01T00:00:00`, `0001-01-01T00:00:00` or `1899-12-30T00:00:00`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..base import SourceSetting, vendor_time

SYSTEM_CLOSED = 9                    # Halo's system "Closed" status
DEFAULT_PRIORITIES = "critical=1,high=2,medium=3,low=4"
CANONICAL_PRIORITIES = ("critical", "high", "medium", "low")

SETTINGS: tuple[SourceSetting, ...] = (
    SourceSetting("closed_status_id", "Halo status id that closes a ticket (Configuration > "
                  "Tickets > Status; Halo's system Closed is 9)", default=SYSTEM_CLOSED, kind=int),
    SourceSetting("new_status_id", "Halo status id new tickets get (default: none sent, so Halo "
                  "applies the ticket type's start status)", kind=int),
    SourceSetting("ticket_type_id", "Halo ticket type id new tickets are created with (a type "
                  "that requires extra fields refuses Vectis's tickets)", default=1, kind=int),
    SourceSetting("priority_ids", "Halo priority ids by canonical priority (priorities belong to "
                  "the ticket type's SLA)", default=DEFAULT_PRIORITIES),
    SourceSetting("note_outcome", "action outcome of a customer-visible note", default="Note"),
    SourceSetting("private_note_outcome", "action outcome of an internal note",
                  default="Private Note"),
    SourceSetting("resolution_outcome", "action outcome of the resolution posted on close",
                  default="Note"),
    SourceSetting("auth_url", "the instance's auth server, e.g. https://acme.halopsa.com/auth "
                  "(default: asked from GET /api/authinfo, else {base}/auth)"),
)


def closed_ids(closed_status_id: int) -> frozenset[int]:
    """Status ids that mean closed: the configured closing status and Halo's system Closed."""
    return frozenset({int(closed_status_id), SYSTEM_CLOSED})


def canonical_status(status: dict, closed: frozenset[int]) -> str:
    if _int(status.get("id")) in closed:
        return "closed"
    name = str(status.get("name") or "").strip().lower()
    if name in ("resolved", "completed"):
        return "resolved"
    if name == "new":
        return "new"
    if "progress" in name:
        return "in_progress"
    if any(word in name for word in ("wait", "hold", "pending", "with user", "awaiting")):
        return "waiting"
    return "open"


def priority_ids(text: str) -> dict[str, int]:
    """`critical=1,high=2,...` as {canonical: Halo priority id}; a bad value is a ValueError."""
    out: dict[str, int] = {}
    for part in str(text).split(","):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in CANONICAL_PRIORITIES or not value.strip().isdigit():
            raise ValueError(f"priority_ids must read like {DEFAULT_PRIORITIES!r}, not {text!r}")
        out[name] = int(value)
    return out


def halo_date(value: Any) -> datetime | None:
    """A Halo date as aware UTC; None when absent, unreadable or one of Halo's "no date" values
    (any year before 1901)."""
    moment = vendor_time(value)
    return None if moment is None or moment.year < 1901 else moment


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
