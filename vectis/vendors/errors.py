"""Errors a connector raises. Tools turn them into `isError` results that name the vendor."""
from __future__ import annotations


class VendorError(Exception):
    """A vendor call failed for good (after any retries the verb allows).

    `retry_safe` tells the caller whether sending the same request again could duplicate the
    effect: False when the vendor may have acted (a timeout or 5xx after a non-idempotent POST).
    """

    def __init__(self, vendor: str, message: str, *, status: int | None = None,
                 retry_safe: bool, retry_after: float | None = None, hint: str | None = None):
        super().__init__(message)
        self.vendor = vendor
        self.status = status
        self.retry_safe = retry_safe
        self.retry_after = retry_after
        # What the operator (or the AI) should do about it, in the vendor's terms. May name
        # `{connect}`, the admin command for this source, which describe() fills in.
        self.hint = hint if hint is not None else default_hint(status, retry_after)

    def describe(self, slug: str | None = None, source_id: str | None = None) -> str:
        from .registry import DISPLAY_NAMES
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        advice = ("retrying is safe" if self.retry_safe else
                  "the vendor may have applied it: check before retrying")
        text = f"{DISPLAY_NAMES.get(self.vendor, self.vendor)} call failed ({status}): {self}"
        if self.hint:
            connect = f"python server.py admin connect-source {slug or '<tenant>'} {source_id or '<source>'}"
            text += f". {self.hint.replace('{connect}', connect)}"
        return f"{text} — {advice}"


def default_hint(status: int | None, retry_after: float | None) -> str | None:
    """The next step for a failure any vendor can answer, when the connector knows no better."""
    if status == 401:
        return ("The vendor refused the source's credentials: store valid ones with "
                "`{connect} --base-url URL --credentials-stdin`")
    if status == 403:
        return "The vendor's API user lacks a permission this call needs: grant it at the vendor"
    if status == 404:
        return ("The vendor has no such record (deleted or merged there?): the next sync "
                "brings Vectis up to date")
    if status == 429:
        wait = f" in {round(retry_after)} s" if retry_after is not None else " later"
        return f"The vendor's rate limit was reached: try again{wait}"
    return None


class VerbUnsupported(Exception):
    """The vendor's API has no verb for this action (the public docs' vendor matrix)."""

    def __init__(self, vendor: str, verb: str, reason: str):
        super().__init__(reason)
        self.vendor = vendor
        self.verb = verb
        self.reason = reason


class NotConfigured(Exception):
    """The source has no base URL or no stored credentials yet."""
