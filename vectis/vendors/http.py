"""The one HTTP client every connector uses: a shared aiohttp session with connection limits,
per-attempt timeouts that include the body, and the retry rules that keep writes single.

Retry rules (per attempt, bounded by `RetryPolicy.attempts`):
- connection refused / DNS failure: the request never left, so a retry is always safe;
- 429: the vendor refused it unprocessed; wait `Retry-After` (capped) and try again;
- 5xx, timeouts and dropped connections: retried only for idempotent requests, because the vendor
  may already have acted on a POST. Otherwise the failure is final and marked `retry_safe=False`.
Nothing here logs headers or bodies: they carry vendor credentials and customer data.
"""
from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .errors import VendorError, default_hint

log = logging.getLogger("vectis.vendors")
MAX_ERROR_TEXT = 300


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff: tuple[float, ...] = (0.25, 1.0, 2.0)
    max_retry_after: float = 30.0   # a longer Retry-After ends the call with that hint instead
    timeout: float = 20.0           # per attempt, including reading the body
    connect_timeout: float = 5.0


@dataclass
class VendorResponse:
    status: int
    headers: dict[str, str]
    body: Any                       # parsed JSON when the vendor sent JSON, else text

    def json(self) -> Any:
        return self.body


@dataclass
class VendorHttp:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    limit: int = 100
    limit_per_host: int = 8
    calls: Counter = field(default_factory=Counter)   # attempts by (vendor, outcome)
    metrics: Any = None             # vectis.metrics.Metrics, when the server runs
    _session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        # Created on first use so it belongs to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit_per_host),
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout,
                                              sock_connect=self.policy.connect_timeout),
                headers={"User-Agent": "Vectis-MCP/1.0"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def request(self, vendor: str, method: str, url: str, *, idempotent: bool,
                      headers: dict[str, str] | None = None, json: Any = None,
                      data: Any = None, params: dict | None = None,
                      accept: tuple[int, ...] = (),
                      throttled: Callable[[VendorResponse], bool] | None = None) -> VendorResponse:
        """Send one vendor request under the retry rules. 2xx, and any status in `accept`, is
        returned; everything else ends as a `VendorError`. `throttled` tells a refusal the vendor
        made before processing anything (a thread limit answered as a 500, say) from a failure:
        it is waited out like a 429, also for a POST."""
        policy = self.policy
        path = urlsplit(url).path
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            started = time.monotonic()
            try:
                response = await self._send(method, url, headers, json, data, params)
            except aiohttp.ClientConnectorError as exc:
                self._count(vendor, "unreachable", method, path, None, started)
                if last:
                    raise VendorError(vendor, f"cannot connect: {exc.os_error or exc}",
                                      retry_safe=True) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                # The request may have reached the vendor before the connection died.
                kind = "timeout" if isinstance(exc, TimeoutError) else "connection lost"
                self._count(vendor, kind.replace(" ", "_"), method, path, None, started)
                if not idempotent or last:
                    raise VendorError(vendor, f"{kind} after the request was sent",
                                      retry_safe=idempotent) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            self._count(vendor, str(response.status), method, path, response.status, started)
            if 200 <= response.status < 300 or response.status in accept:
                return response
            if response.status == 429 or (response.status >= 400 and throttled is not None
                                          and throttled(response)):
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                wait = self._backoff(attempt) if wait is None else wait
                if last or wait > policy.max_retry_after:
                    raise VendorError(vendor, "rate limited by the vendor", status=response.status,
                                      retry_safe=True, retry_after=wait,
                                      hint=default_hint(429, wait))
                await asyncio.sleep(wait)
                continue
            if response.status >= 500:
                if not idempotent or last:
                    raise VendorError(vendor, _error_text(response), status=response.status,
                                      retry_safe=idempotent)
                await asyncio.sleep(self._backoff(attempt))
                continue
            raise VendorError(vendor, _error_text(response), status=response.status,
                              retry_safe=True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method, url, headers, json, data, params) -> VendorResponse:
        async with self.session().request(method, url, headers=headers, json=json, data=data,
                                          params=params, allow_redirects=False) as response:
            raw = await response.read()
            text = raw.decode("utf-8", "replace")
            body: Any = text
            if raw and "json" in response.headers.get("Content-Type", ""):
                try:
                    body = jsonlib.loads(text)
                except ValueError:
                    body = text
            elif not raw:
                body = None
            return VendorResponse(response.status, dict(response.headers), body)

    def _backoff(self, attempt: int) -> float:
        steps = self.policy.backoff
        return steps[min(attempt - 1, len(steps) - 1)] if steps else 0.0

    def _count(self, vendor, outcome, method, path, status, started) -> None:
        seconds = time.monotonic() - started
        self.calls[(vendor, outcome)] += 1
        if self.metrics is not None:
            self.metrics.vendor_call(vendor, outcome, seconds)
        # Successful calls at debug: a sync makes one per page, and at info they would drown
        # the log; failures and retries stay visible.
        ok = status is not None and 200 <= status < 400
        level = logging.DEBUG if ok else logging.WARNING
        log.log(level, "vendor call", extra={"vendor": vendor, "method": method, "path": path,
                                       "status": status, "outcome": outcome,
                                       "duration_ms": round(1000 * seconds, 2)})


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_text(response: VendorResponse) -> str:
    body = response.body
    if isinstance(body, dict):
        for key in ("message", "errorMessage", "error_description", "detail", "error", "Message",
                    "errors", "title"):
            if body.get(key):
                body = body[key]
                break
    text = body if isinstance(body, str) else jsonlib.dumps(body)
    return (text or f"HTTP {response.status}")[:MAX_ERROR_TEXT]
