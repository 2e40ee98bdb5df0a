"""Prometheus metrics of one server process.

Two kinds:
- counted on the way (requests, tool calls, rate-limit denials, vendor calls): instruments
  updated where the thing happens, with labels drawn only from closed sets (tool names of the
  registry, HTTP handler classes, vendor names, outcome words), so no caller can grow the number
  of series. No tenant label on them: a thousand tenants would multiply every series by a thousand.
- read from the database at scrape time (sync lag per source, rule queue depth, dead letters):
  one snapshot per `SNAPSHOT_SECONDS` whatever the number of scrapers, so a tight scrape interval
  cannot load the database. Every process of a scale-out reports the same values for these
  (aggregate them with max(), not sum()).

Each `Metrics` owns its registry, so several servers in one test process do not share counters.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger("vectis.metrics")

SNAPSHOT_SECONDS = 10.0
SNAPSHOT_TIMEOUT_SECONDS = 5.0
SNAPSHOT_CONCURRENCY = 8
PING_TIMEOUT_SECONDS = 2.0   # with the snapshot's bound, well inside Prometheus's 10 s scrape timeout
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VENDOR_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
MCP_METHODS = frozenset({"initialize", "ping", "tools/list", "tools/call", "server/discover"})
UNKNOWN = "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "vectis_http_requests", "HTTP requests answered, by handler and status code.",
            ["handler", "code"], registry=r)
        self.mcp_requests = Counter(
            "vectis_mcp_requests", "JSON-RPC requests to /api/mcp, by method and outcome (ok or "
            "the JSON-RPC error's name).", ["method", "outcome"], registry=r)
        self.mcp_latency = Histogram(
            "vectis_mcp_request_duration_seconds", "Time to answer one JSON-RPC request.",
            ["method"], buckets=LATENCY_BUCKETS, registry=r)
        self.tool_calls = Counter(
            "vectis_tool_calls", "Tool calls by tool and status (success, error, rate_limited, "
            "denied_scope, denied_mfa, unavailable, failed).", ["tool", "status"], registry=r)
        self.tool_latency = Histogram(
            "vectis_tool_call_duration_seconds", "Time of one tool call, checks included.",
            ["tool"], buckets=LATENCY_BUCKETS, registry=r)
        self.rate_limit_denials = Counter(
            "vectis_rate_limit_denials", "Calls refused by a rate limit, by limit (credential "
            "read/write, tenant read/write).", ["scope"], registry=r)
        self.vendor_calls = Counter(
            "vectis_vendor_calls", "Vendor API attempts by vendor and outcome (HTTP status, "
            "timeout, unreachable, connection_lost).", ["vendor", "outcome"], registry=r)
        self.vendor_latency = Histogram(
            "vectis_vendor_call_duration_seconds", "Time of one vendor API attempt.",
            ["vendor"], buckets=VENDOR_BUCKETS, registry=r)
        self.in_flight = Gauge("vectis_http_requests_in_flight",
                               "Requests being handled now.", registry=r)
        self.snapshot = DatabaseSnapshot()
        r.register(self.snapshot)
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):   # memory, CPU, fds
            r.register(standard)

    def attach(self, services) -> None:
        """Gauges read from live objects at scrape time, and the database snapshot's source."""
        self.in_flight.set_function(lambda: services.inflight.count)
        Gauge("vectis_audit_rows_buffered", "Read-tool audit rows waiting for the next batch.",
              registry=self.registry).set_function(lambda: services.audit.buffered)
        self.snapshot.storage = services.storage

    # --- counted on the way --------------------------------------------------------------------
    def http_request(self, handler: str, code: int) -> None:
        self.http_requests.labels(handler, str(code)).inc()

    def mcp_request(self, method: object, outcome: str, seconds: float) -> None:
        name = method if isinstance(method, str) and method in MCP_METHODS else UNKNOWN
        self.mcp_requests.labels(name, outcome).inc()
        self.mcp_latency.labels(name).observe(seconds)

    def tool_call(self, tool: str, status: str, seconds: float) -> None:
        self.tool_calls.labels(tool, status).inc()
        self.tool_latency.labels(tool).observe(seconds)

    def rate_limited(self, scope: str) -> None:
        self.rate_limit_denials.labels(scope).inc()

    def vendor_call(self, vendor: str, outcome: str, seconds: float) -> None:
        self.vendor_calls.labels(vendor, outcome).inc()
        self.vendor_latency.labels(vendor).observe(seconds)

    # --- exposition ----------------------------------------------------------------------------
    async def render(self) -> bytes:
        await self.snapshot.refresh()
        return generate_latest(self.registry)


class DatabaseSnapshot(Collector):
    """Per-source sync state and rule-execution counts of every tenant, read at most once per
    SNAPSHOT_SECONDS. `vectis_database_up` comes from a ping of its own, so a read that outgrows
    its bound (many tenants) is not mistaken for a database outage; either way the
    database-derived series are then left out rather than shown stale."""

    def __init__(self) -> None:
        self.storage = None
        self._taken = float("-inf")
        self._up = False
        self._ok = False
        self._seconds: float | None = None
        self._sources: list[tuple[str, dict]] = []
        self._rules: list[tuple[str, int, int]] = []
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self.storage is None or time.monotonic() - self._taken < SNAPSHOT_SECONDS:
            return
        async with self._lock:
            if time.monotonic() - self._taken < SNAPSHOT_SECONDS:
                return
            self._up = await self._ping()
            self._ok, self._sources, self._rules, self._seconds = False, [], [], None
            if self._up:
                started = time.monotonic()
                try:
                    self._sources, self._rules = await asyncio.wait_for(self._read(),
                                                                        SNAPSHOT_TIMEOUT_SECONDS)
                    self._ok = True
                except Exception as exc:   # scraping must work whatever the database does
                    log.warning("metrics: database snapshot failed: %r", exc)
                self._seconds = time.monotonic() - started
            self._taken = time.monotonic()

    async def _ping(self) -> bool:
        try:
            await asyncio.wait_for(self.storage.ping(), PING_TIMEOUT_SECONDS)
            return True
        except Exception as exc:
            log.warning("metrics: database does not answer: %r", exc)
            return False

    async def _read(self) -> tuple[list, list]:
        # Tenants are read a few at a time: one after another, a few hundred of them would outlast
        # the timeout and report a working database as down; all at once would flood the pool.
        storage = self.storage
        gate = asyncio.Semaphore(SNAPSHOT_CONCURRENCY)

        async def read_tenant(slug: str) -> tuple[list, tuple[str, int, int]]:
            async with gate:
                tenant_sources = await storage.sources.list(slug)
                queued, dead = await storage.rules.execution_counts(slug)
            return [(slug, source) for source in tenant_sources], (slug, queued, dead)

        per_tenant = await asyncio.gather(*(read_tenant(t["_id"]) for t in await storage.tenants.list()))
        return [s for tenant_sources, _ in per_tenant for s in tenant_sources], [r for _, r in per_tenant]

    def collect(self) -> Iterable:
        yield GaugeMetricFamily("vectis_database_up", "1 when the database answered the last "
                                "snapshot's ping.", value=1 if self._up else 0)
        if self._seconds is not None:
            yield GaugeMetricFamily("vectis_metrics_snapshot_duration_seconds", "Time the last "
                                    "snapshot took to read every tenant's sources and rule "
                                    f"backlog (bounded by {SNAPSHOT_TIMEOUT_SECONDS:g} s).",
                                    value=self._seconds)
        if not self._ok:
            return
        now = datetime.now(UTC)
        labels = ["tenant", "source", "vendor"]
        lag = GaugeMetricFamily("vectis_sync_lag_seconds", "Seconds since the source's last "
                                "successful sync (absent until its first one).", labels=labels)
        last = GaugeMetricFamily("vectis_sync_last_success_timestamp_seconds", "Unix time of the "
                                 "source's last successful sync; 0 = never.", labels=labels)
        failures = GaugeMetricFamily("vectis_sync_consecutive_failures", "Failed sync runs of "
                                     "the source since its last success.", labels=labels)
        for slug, source in self._sources:
            values = [slug, str(source["_id"]), str(source.get("vendor", ""))]
            synced = source.get("last_sync_at")
            if synced is not None:
                if synced.tzinfo is None:
                    synced = synced.replace(tzinfo=UTC)
                lag.add_metric(values, max(0.0, (now - synced).total_seconds()))
            last.add_metric(values, synced.timestamp() if synced is not None else 0)
            failures.add_metric(values, source.get("sync_failures") or 0)
        queue = GaugeMetricFamily("vectis_rule_queue_depth", "Rule executions queued or "
                                  "running.", labels=["tenant"])
        dead = GaugeMetricFamily("vectis_rule_dead_letters", "Rule executions in the "
                                 "dead-letter queue.", labels=["tenant"])
        for slug, queued, dead_letters in self._rules:
            queue.add_metric([slug], queued)
            dead.add_metric([slug], dead_letters)
        yield from (lag, last, failures, queue, dead)
