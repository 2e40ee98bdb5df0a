"""Shared state and helpers for generating one tenant: seeded randomness, ids, times, refs."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

DAY = 86_400
HOUR = 3_600

# Vendor objects whose native id is a GUID rather than a number.
_GUID_IDS = {("ninjaone", "alert"), ("kaseya_vsax", "asset"), ("datto_bcdr", "backup_job")}
# Where a vendor's numeric ids start, so they look like the vendor's own.
_FIRST_NUMERIC_ID = {"connectwise": 100_000, "autotask": 29_000_000, "halopsa": 10_000,
                     "atera": 1_000, "ninjaone": 1_000, "ncentral": 1_800_000_000,
                     "kaseya_vsax": 50_000, "datto_bcdr": 400_000}

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
# Two base32 characters per 10 bits: the same text as base64.b32encode, several times faster.
_BASE32_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)


def new_id(rng: random.Random, prefix: str) -> str:
    """`prefix_` and 16 lower-case base32 characters (80 random bits)."""
    bits, pairs = rng.getrandbits(80), _BASE32_PAIRS
    return (f"{prefix}_{pairs[bits >> 70]}{pairs[bits >> 60 & 1023]}{pairs[bits >> 50 & 1023]}"
            f"{pairs[bits >> 40 & 1023]}{pairs[bits >> 30 & 1023]}{pairs[bits >> 20 & 1023]}"
            f"{pairs[bits >> 10 & 1023]}{pairs[bits & 1023]}")


def utc_millis(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to the millisecond that BSON can store."""
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: datetime, months_back: int = 0) -> datetime:
    """Midnight UTC on the first day of the month `months_back` months before `moment`'s."""
    index = moment.year * 12 + moment.month - 1 - months_back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


class Generation:
    """What the generators of one tenant share: `now`, sources, operators, vendor counters,
    and `rng`, which generate_tenant reseeds for every customer."""

    def __init__(self, rng: random.Random, now: datetime, sources: dict[str, dict],
                 operators: list[dict]):
        self.rng = rng
        self.now = now
        self.sources = sources  # by kind: psa, rmm, backup
        self.operators = operators  # user documents: admin first, then technician
        self._next_external_id: dict[tuple[str, str], int] = {}
        self.portal_tickets = 1000  # the last number the customer portal gave out
        self.invoice_numbers = 24000  # the last invoice number given out
        self.autotask_daily: dict[str, int] = {}

    # ids -------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return new_id(self.rng, prefix)

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_number(self, source: dict, kind: str) -> int:
        """The next numeric vendor id of `kind` in `source` (sequential, hence unique)."""
        key = (source["_id"], kind)
        current = self._next_external_id.get(key)
        if current is None:
            current = _FIRST_NUMERIC_ID[source["vendor"]] + self.rng.randrange(1, 5_000)
        self._next_external_id[key] = current + 1
        return current

    def refs(self, source: dict, kind: str, external_id: str | None = None) -> list[dict]:
        if external_id is None:
            if (source["vendor"], kind) in _GUID_IDS:
                external_id = self.new_uuid()
            else:
                external_id = str(self.next_number(source, kind))
        return [{"source_id": source["_id"], "external_id": external_id}]

    # randomness ------------------------------------------------------------------------
    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    # times: whole seconds from a millisecond-aligned `now` keep every time BSON-exact ----
    def ago(self, least: int, most: int) -> datetime:
        """A moment between `most` and `least` seconds before now."""
        return self.now - timedelta(seconds=self.rng.randint(least, most))

    def days_ago(self, least: float, most: float) -> datetime:
        return self.ago(int(least * DAY), int(most * DAY))

    def after(self, start: datetime, least: int, most: int) -> datetime:
        """A moment `least`..`most` seconds after `start`, never later than now."""
        return min(start + timedelta(seconds=self.rng.randint(least, most)), self.now)

    def operator_author(self, operator: dict) -> dict:
        return {"user_id": operator["_id"], "name": operator["name"], "email": operator["email"]}
