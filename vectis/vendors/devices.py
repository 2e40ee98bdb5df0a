"""Reading helpers shared by the RMM and backup readers: vendor epochs, a device's presence
from its online flag and last contact, and records without absent fields."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# A device that has not reported for this long is "stale" rather than merely "offline", and one
# that reported this recently counts as online where the vendor has no online flag.
STALE_AFTER = timedelta(days=30)
ONLINE_WITHIN = timedelta(minutes=15)


def epoch_time(value: Any) -> datetime | None:
    """A vendor epoch (seconds, or milliseconds when that large) as aware UTC."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:         # milliseconds: seconds would be past the year 5000
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def presence(online: bool | None, last_seen: datetime | None,
             now: datetime | None = None) -> str | None:
    """Canonical asset status from the vendor's online flag (None when it has none) and its last
    contact: long silence is "stale" whatever the flag says it was last."""
    now = now or datetime.now(UTC)
    if online:
        return "online"
    if last_seen is None:
        return None if online is None else "offline"
    if now - last_seen > STALE_AFTER:
        return "stale"
    if online is None and now - last_seen <= ONLINE_WITHIN:
        return "online"
    return "offline"


def present(values: dict) -> dict:
    """`values` without absent (None or empty) entries: the engine only overwrites what is given."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != {}}


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
