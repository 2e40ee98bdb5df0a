"""Every setting Vectis has, declared once: name, type, default, help, whether it is a secret,
how it is checked and whether a reload applies it. The loader (config.py), the reload, the
redacted printout and the example file's test all read this table, so a new setting cannot be
half-added."""
from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    help: str
    secret: bool = False
    check: Callable[[Any], str | None] | None = None
    live: bool = False   # applied by a reload (SIGHUP) without a restart


def _ca_bundle(v: str) -> str | None:
    """Checked when the configuration loads, not when the first client's metadata is fetched."""
    if not v:
        return None
    try:
        ssl.create_default_context().load_verify_locations(v)
    except (OSError, ssl.SSLError) as exc:
        return f"must be a readable PEM CA bundle ({exc.strerror or exc})"
    return None


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _port(v: int) -> str | None:
    return None if 1 <= v <= 65535 else "must be a port number 1-65535"


def _port_or_zero(v: int) -> str | None:
    return None if 0 <= v <= 65535 else "must be a port number 0-65535 (0 picks a free port)"


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be greater than 0"


_DOMAIN_RE = re.compile(r"^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _domain(v: str) -> str | None:
    return None if _DOMAIN_RE.match(v) else "must be a lower-case DNS name such as mspvectis.com"


def _db_prefix(v: str) -> str | None:
    return None if re.fullmatch(r"[a-z][a-z0-9_]{0,30}", v) else "must match [a-z][a-z0-9_]{0,30}"


def _mongo_uri(v: str) -> str | None:
    if v and not v.startswith(("mongodb://", "mongodb+srv://")):
        return "must start with mongodb:// or mongodb+srv:// (or be empty for the embedded database)"
    return None


_ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")


def _origins(v: str) -> str | None:
    bad = [o for o in split_list(v) if not _ORIGIN_RE.match(o)]
    return f"not origins: {', '.join(bad)}" if bad else None


def _networks(v: str) -> str | None:
    bad = []
    for item in split_list(v):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            bad.append(item)
    return f"not CIDR ranges: {', '.join(bad)}" if bad else None


def split_list(v: str) -> list[str]:
    return [p.strip().lower() for p in v.split(",") if p.strip()]


def _cache_size(v: str) -> str | None:
    return None if re.fullmatch(r"[1-9][0-9]*[MG]", v) else "must look like 256M or 1G"


SETTINGS: tuple[Setting, ...] = (
    Setting("mode", str, "development",
            "development or production. Production refuses to start without explicit secrets "
            "and never seeds demo data.", check=_one_of("development", "production")),
    Setting("host", str, "127.0.0.1", "Address the HTTP server listens on."),
    Setting("port", int, 8080, "Port the HTTP server listens on.", check=_port_or_zero),
    Setting("public_scheme", str, "http",
            "Scheme of the public URLs (issuer, MCP resource URI). https in production.",
            check=_one_of("http", "https")),
    Setting("base_domain", str, "localhost",
            "Tenants live at {slug}.{base_domain}. Public URLs are built from this, never from "
            "request headers.", check=_domain),
    Setting("public_port", int, 0,
            "Port in public URLs. 0 = the scheme's default (443/80) in production, the listen "
            "port in development.", check=_port_or_zero),
    Setting("mongo_uri", str, "",
            "MongoDB connection string. Empty = start the embedded SecantusDB server as a child "
            "process with its files under data_dir.", secret=True, check=_mongo_uri),
    Setting("db_prefix", str, "vectis",
            "Name of the control database; tenant databases are {db_prefix}_t_{slug}.",
            check=_db_prefix),
    Setting("data_dir", str, "./vectis-data",
            "Directory for the embedded database, generated development secrets and demo "
            "credentials."),
    Setting("demo", str, "auto",
            "Seed the demo tenants (acme, northwind) on first start: auto (only with the "
            "embedded database in development), on, off.", check=_one_of("auto", "on", "off")),
    Setting("cookie_secret", str, "",
            "Signs session cookies. 32+ characters. Generated into data_dir in development.",
            secret=True),
    Setting("encryption_key", str, "",
            "32-byte key, URL-safe base64, that encrypts stored secrets (signing keys, vendor "
            "credentials, TOTP secrets). Generated into data_dir in development.", secret=True),
    Setting("token_pepper", str, "",
            "Server-side key of the HMAC-SHA-256 under which tokens are stored. 32+ characters. "
            "Changing it invalidates every issued token.", secret=True),
    Setting("tenant_cache_seconds", float, 5.0,
            "How long a resolved tenant (host to tenant) is cached in memory; a disabled or new "
            "tenant is seen by every process within this bound.", check=_positive),
    Setting("auth_cache_seconds", float, 5.0,
            "How long a verified token is cached in memory. Revocation takes effect at once in "
            "the process that revokes, and in every other process within this bound.",
            check=_positive),
    Setting("allowed_origins", str, "",
            "Comma-separated browser origins (scheme://host[:port]) allowed to call /api/mcp, "
            "besides the tenant's own origin; loopback origins are also allowed in development.",
            check=_origins, live=True),
    Setting("write_lease_seconds", float, 120.0,
            "How long a write with an idempotency_key is reserved by the process dispatching it. "
            "A duplicate arriving later waits for it; after this long without an answer (the "
            "process died) another process looks the effect up at the vendor and finishes it. "
            "Keep it above the vendor call budget (3 attempts × 20 s).",
            check=lambda v: None if v >= 1 else "must be at least 1 second"),
    Setting("approval_expiry_hours", int, 24,
            "How long a write waiting for a person's approval (the queue on /account/approvals) "
            "stays approvable; after that it expires and nothing is sent.",
            check=lambda v: None if 1 <= v <= 720 else "must be 1 to 720 hours"),
    Setting("sync_interval_seconds", float, 300.0,
            "How often each connected source is synced (customers, tickets, alerts, devices, …). "
            "Failed runs back off exponentially up to an hour. 0 turns the scheduler off (the "
            "admin sync-now command still works).",
            check=lambda v: None if v == 0 or v >= 5 else "must be 0 (off) or at least 5 seconds"),
    Setting("sync_concurrency", int, 4,
            "How many sources one server process syncs at the same time.",
            check=lambda v: None if 1 <= v <= 64 else "must be 1 to 64"),
    Setting("rules_worker", str, "on",
            "Run the rules engine in this process: match new events to rules and run their "
            "executions (several processes may, safely). off: this process only serves requests.",
            check=_one_of("on", "off")),
    Setting("oauth_cimd_allow_networks", str, "",
            "Comma-separated CIDR ranges that Client ID Metadata Documents may be fetched from "
            "although they are private or loopback. Empty in production: only for tests and labs.",
            check=lambda v: _networks(v)),
    Setting("oauth_cimd_ca_file", str, "",
            "Extra PEM CA bundle trusted when fetching Client ID Metadata Documents (a lab CA); "
            "empty = the system trust store only.", check=_ca_bundle),
    Setting("log_level", str, "info", "debug, info, warning or error.",
            check=_one_of("debug", "info", "warning", "error"), live=True),
    Setting("shutdown_grace_seconds", float, 10.0,
            "On SIGTERM the server stops accepting connections and gives requests in flight up "
            "to this long to finish before closing the remaining connections.",
            check=lambda v: None if 0 <= v <= 600 else "must be 0 to 600 seconds", live=True),
    Setting("metrics_port", int, 0,
            "Port of a separate listener that serves only /metrics (Prometheus), never the "
            "application's port, so a reverse proxy in front of the application cannot publish "
            "it. 0 = no metrics.",
            check=lambda v: None if 0 <= v <= 65535 else "must be a port number, or 0 for no metrics"),
    Setting("metrics_host", str, "127.0.0.1",
            "Address the metrics listener binds to (0.0.0.0 or a private address for a "
            "Prometheus on another host; then narrow metrics_allow_networks)."),
    Setting("metrics_allow_networks", str, "127.0.0.0/8, ::1/128",
            "Comma-separated CIDR ranges of the peers allowed to read /metrics. A request that "
            "came through a proxy (it carries Forwarded, X-Forwarded-For or X-Real-IP) is "
            "refused whatever its peer.",
            check=lambda v: _networks(v), live=True),
    Setting("metrics_token", str, "",
            "If set, /metrics also requires 'Authorization: Bearer <this>' (Prometheus: "
            "authorization.credentials_file). Empty = the network check alone.", secret=True,
            live=True),
    Setting("embedded_db_cache_size", str, "256M",
            "WiredTiger cache of the embedded database.", check=_cache_size),
)
BY_NAME = {s.name: s for s in SETTINGS}
