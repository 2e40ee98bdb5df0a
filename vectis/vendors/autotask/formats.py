"""How Autotask writes times and names ticket priorities: shared by the connector (writes) and the
reader (sync)."""
from __future__ import annotations

from datetime import UTC, datetime

# Stock priority picklist, used when the tenant's labels do not name the level.
DEFAULT_PRIORITY = {"high": 1, "medium": 2, "low": 3, "critical": 4}
PRIORITY_WORDS = {"critical": ("critical", "urgent", "emergency"), "high": ("high",),
                  "medium": ("medium", "normal"), "low": ("low",)}


def at_time(value: datetime) -> str:
    # Whole seconds: `since` is rounded down, so a record stamped in the same second still counts.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
