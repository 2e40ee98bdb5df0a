"""Errors a connector raises. Tools turn them into `isError` results that name the vendor."""
from __future__ import annotations


class VendorError(Exception):
    """A vendor call failed for good (after any retries the verb allows).

    `retry_safe` tells the caller whether sending the same request again could duplicate the
    effect: False when the vendor may have acted (a timeout or 5xx after a non-idempotent POST).
    """

    def __init__(self, vendor: str, message: str, *, status: int | None = None,
                 retry_safe: bool, retry_after: float | None = None):
        super().__init__(message)
        self.vendor = vendor
        self.status = status
        self.retry_safe = retry_safe
        self.retry_after = retry_after

    def describe(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        advice = ("retrying is safe" if self.retry_safe else
                  "the vendor may have applied it: check before retrying")
        return f"{self.vendor} call failed ({status}): {self} — {advice}"


class VerbUnsupported(Exception):
    """The vendor's API has no verb for this action (the public docs' vendor matrix)."""

    def __init__(self, vendor: str, verb: str, reason: str):
        super().__init__(reason)
        self.vendor = vendor
        self.verb = verb
        self.reason = reason


class NotConfigured(Exception):
    """The source has no base URL or no stored credentials yet."""
