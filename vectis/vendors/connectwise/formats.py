"""How ConnectWise Manage writes times, names ticket priorities and marks statuses: shared by the
connector (writes) and the reader (sync)."""
from __future__ import annotations

from datetime import UTC, datetime

# Canonical priority -> words that name it in CW's priority list (the stock names are
# "Priority 1 - Emergency Response" ... "Priority 4 - Schedule Maintenance"; tenants rename them).
PRIORITY_WORDS = {"critical": ("emergency", "critical", "urgent", "priority 1"),
                  "high": ("quick", "high", "priority 2"),
                  "medium": ("normal", "medium", "priority 3"),
                  "low": ("schedule", "low", "priority 4")}


def cw_time(value: datetime) -> str:
    """A condition date literal; CW keeps whole seconds, so `since` is rounded down to match."""
    return value.astimezone(UTC).strftime("[%Y-%m-%dT%H:%M:%SZ]")


def canonical_status(ticket: dict) -> str:
    if ticket.get("closedFlag"):
        return "closed"
    name = str((ticket.get("status") or {}).get("name", "")).lower()
    # Board status names are free text; "new" is checked last ("Waiting on new parts" waits).
    for words, status in ((("wait", "hold", "pending"), "waiting"),
                          (("progress", "assigned", "scheduled"), "in_progress"),
                          (("resolved", "complete"), "resolved"), (("new",), "new")):
        if any(word in name for word in words):
            return status
    return "open"
