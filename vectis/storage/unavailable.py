"""Recognising "the database is not answering" among storage exceptions.

These failures say nothing about the request: the same call can succeed once the database is
back, so callers answer them as a retryable "temporarily unavailable", never as an internal error.
"""
from __future__ import annotations

from pymongo.errors import ConnectionFailure, PyMongoError

RETRY_AFTER_SECONDS = 5  # about one server-selection timeout: by then the driver has looked again


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionFailure):  # refused, reset, selection or pool timeouts
        return True
    # Client-side operation timeouts (timeoutMS) are PyMongoErrors that say they timed out.
    return isinstance(exc, PyMongoError) and bool(getattr(exc, "timeout", False))
