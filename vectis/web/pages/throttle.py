"""Sign-in throttling, counted in MongoDB so every process of a deployment agrees.

Fixed 15-minute windows per account (5 attempts) and per client address (20). An attempt is
counted *before* the password is checked, so parallel guesses cannot slip past the limit; a
successful sign-in gives its attempt back.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ...storage import Storage

WINDOW_SECONDS = 15 * 60
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20


@dataclass(frozen=True)
class Attempt:
    keys: tuple[str, ...]
    expires_at: datetime
    retry_after: int | None   # seconds; None when the attempt is allowed


def _keys(email: str, address: str, window: int) -> tuple[str, str]:
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"signin:account:{account}:{window}", f"signin:address:{address}:{window}"


async def begin(storage: Storage, slug: str, email: str, address: str) -> Attempt:
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    window_end = (window + 1) * WINDOW_SECONDS
    expires_at = datetime.fromtimestamp(window_end, UTC)
    keys = _keys(email, address, window)
    counts = [await storage.counters.add(slug, key, 1, expires_at) for key in keys]
    over = counts[0] > ACCOUNT_LIMIT or counts[1] > ADDRESS_LIMIT
    retry_after = max(1, math.ceil(window_end - now)) if over else None
    return Attempt(keys=keys, expires_at=expires_at, retry_after=retry_after)


async def succeeded(storage: Storage, slug: str, attempt: Attempt) -> None:
    for key in attempt.keys:
        await storage.counters.add(slug, key, -1, attempt.expires_at)
