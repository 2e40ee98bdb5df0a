"""Configuration: defaults < TOML file < credentials < VECTIS_* environment < command-line flags.

Credentials are files named after a secret setting in $CREDENTIALS_DIRECTORY (what systemd's
LoadCredential= provides). They beat the file, which is often readable by more people than the
secret should be; the environment still wins so one run can be pointed elsewhere by hand.

Every setting is declared once in SETTINGS; the loader, the validator, the redacted printout and
the example file's test all read that table, so a new setting cannot be half-added.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "VECTIS_"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
SECRET_NAMES = ("cookie_secret", "encryption_key", "token_pepper")
SECRETS_FILE = "secrets.json"


class ConfigError(Exception):
    """Raised with every problem found, one per line, so a operator fixes them in one go."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    default: Any
    help: str
    secret: bool = False
    check: Callable[[Any], str | None] | None = None
    live: bool = False   # applied by a reload (SIGHUP) without a restart


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
    import ipaddress
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
            "empty = the system trust store only."),
    Setting("log_level", str, "info", "debug, info, warning or error.",
            check=_one_of("debug", "info", "warning", "error"), live=True),
    Setting("shutdown_grace_seconds", float, 10.0,
            "On SIGTERM the server stops accepting connections and gives requests in flight up "
            "to this long to finish before closing the remaining connections.",
            check=lambda v: None if 0 <= v <= 600 else "must be 0 to 600 seconds", live=True),
    Setting("metrics", str, "on",
            "Serve Prometheus metrics at /metrics (on any host name) to the networks in "
            "metrics_allow_networks. off: /metrics answers 404.", check=_one_of("on", "off")),
    Setting("metrics_allow_networks", str, "127.0.0.0/8, ::1/128",
            "Comma-separated CIDR ranges of the peers allowed to read /metrics. A request that "
            "came through a proxy (it carries Forwarded or X-Forwarded-For) is refused whatever "
            "its peer, so a proxy on loopback cannot expose the metrics by accident.",
            check=lambda v: _networks(v), live=True),
    Setting("metrics_token", str, "",
            "If set, /metrics also requires 'Authorization: Bearer <this>' (Prometheus: "
            "authorization.credentials_file). Empty = the network check alone.", secret=True,
            live=True),
    Setting("embedded_db_cache_size", str, "256M",
            "WiredTiger cache of the embedded database.", check=_cache_size),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    mode: str
    host: str
    port: int
    public_scheme: str
    base_domain: str
    public_port: int
    mongo_uri: str
    db_prefix: str
    data_dir: Path
    demo: str
    cookie_secret: str
    encryption_key: str
    token_pepper: str
    tenant_cache_seconds: float
    auth_cache_seconds: float
    allowed_origins: str
    write_lease_seconds: float
    sync_interval_seconds: float
    sync_concurrency: int
    rules_worker: str
    oauth_cimd_allow_networks: str
    oauth_cimd_ca_file: str
    log_level: str
    shutdown_grace_seconds: float
    metrics: str
    metrics_allow_networks: str
    metrics_token: str
    embedded_db_cache_size: str

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def embedded_db(self) -> bool:
        return not self.mongo_uri

    @property
    def seed_demo(self) -> bool:
        if self.demo == "auto":
            return self.embedded_db and not self.production
        return self.demo == "on"

    @property
    def effective_public_port(self) -> int:
        if self.public_port:
            return self.public_port
        if self.production:
            return 443 if self.public_scheme == "https" else 80
        return self.port

    def tenant_origin(self, slug: str) -> str:
        """The tenant's canonical origin; also its OAuth issuer."""
        port = self.effective_public_port
        default = 443 if self.public_scheme == "https" else 80
        suffix = "" if port == default else f":{port}"
        return f"{self.public_scheme}://{slug}.{self.base_domain}{suffix}"

    def mcp_resource(self, slug: str) -> str:
        return self.tenant_origin(slug) + "/api/mcp"

    def redacted(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            if s.name == "mongo_uri":
                value = redact_uri(value) if value else "(embedded SecantusDB)"
            elif s.secret:
                value = "(set)" if value else "(unset)"
            elif isinstance(value, Path):
                value = str(value)
            out[s.name] = value
        return out


def redact_uri(uri: str) -> str:
    """Hide the password of a MongoDB URI, keep everything else for diagnosis."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.netloc.rsplit('@', 1)[1]}"
    return urlunsplit(parts._replace(netloc=netloc))


def _coerce(setting: Setting, raw: Any, origin: str) -> tuple[Any, str | None]:
    try:
        if setting.kind is bool:
            raise TypeError
        if isinstance(raw, str) and setting.kind is not str:
            raw = raw.strip()
            value = setting.kind(raw)
        elif setting.kind is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, setting.kind) and not isinstance(raw, bool):
            value = raw
        else:
            raise TypeError
    except (TypeError, ValueError):
        return None, f"{setting.name}: expected {setting.kind.__name__}, got {raw!r} (from {origin})"
    if setting.check is not None:
        problem = setting.check(value)
        if problem:
            shown = "***" if setting.secret else repr(value)
            return None, f"{setting.name}: {problem}, got {shown} (from {origin})"
    return value, None


def load_config(
    config_file: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration, raising ConfigError with every problem at once."""
    env = os.environ if env is None else env
    problems: list[str] = []
    raw: dict[str, tuple[Any, str]] = {s.name: (s.default, "default") for s in SETTINGS}

    config_file = config_file or env.get(ENV_PREFIX + "CONFIG") or None
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError([f"config file {path} does not exist"]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None
        for key, value in data.items():
            if key not in _BY_NAME:
                problems.append(f"{key}: unknown setting in {path}")
            else:
                raw[key] = (value, str(path))

    _read_credentials(env.get(CREDENTIALS_ENV), raw, problems)

    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in _BY_NAME:
            problems.append(f"{key}: unknown environment setting")
        else:
            raw[name] = (value, key)

    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = (value, "command line")

    values: dict[str, Any] = {}
    for s in SETTINGS:
        value, problem = _coerce(s, *raw[s.name])
        if problem:
            problems.append(problem)
        values[s.name] = value
    if problems:
        raise ConfigError(problems)

    values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
    if values["mode"] == "production":
        if values["demo"] == "on":
            problems.append("demo: demo data is never seeded in production mode")
        if values["public_scheme"] != "https":
            problems.append("public_scheme: production mode requires https public URLs")
    _check_secret_shapes(values, problems)
    if problems:
        raise ConfigError(problems)
    return Config(**values)


def _read_credentials(directory: str | None, raw: dict[str, tuple[Any, str]],
                      problems: list[str]) -> None:
    """Secret settings from files named after them; other files there are not ours to judge."""
    if not directory:
        return
    for s in SETTINGS:
        if not s.secret:
            continue
        path = Path(directory) / s.name
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{s.name}: credential {path} is unreadable ({exc.__class__.__name__})")
            continue
        # `echo secret > file` and editors add a line end that is not part of the secret.
        value = text.rstrip("\r\n")
        if not value:
            problems.append(f"{s.name}: credential {path} is empty")
            continue
        raw[s.name] = (value, f"credential {path}")


def _check_secret_shapes(values: dict[str, Any], problems: list[str]) -> None:
    for name in ("cookie_secret", "token_pepper"):
        if values[name] and len(values[name]) < 32:
            problems.append(f"{name}: must be at least 32 characters")
    if values["encryption_key"] and decode_key(values["encryption_key"]) is None:
        problems.append("encryption_key: must be 32 bytes in URL-safe base64 (44 characters)")


def decode_key(text: str) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError):
        return None
    return key if len(key) == 32 else None


def with_secrets(config: Config) -> Config:
    """Fill missing secrets: from data_dir (generated once) in development, or refuse in production."""
    missing = [n for n in SECRET_NAMES if not getattr(config, n)]
    if not missing:
        return config
    if config.production:
        raise ConfigError([
            f"{n}: required in production mode (a credential file {n}, {ENV_PREFIX}{n.upper()}, "
            f"or {n} in the config file)"
            for n in missing
        ])
    path = config.data_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError([f"{path}: unreadable generated secrets ({exc}); fix or delete it"]) from None
    generators = {
        "cookie_secret": lambda: secrets.token_urlsafe(48),
        "encryption_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "token_pepper": lambda: secrets.token_urlsafe(48),
    }
    changed = False
    for name in missing:
        if not stored.get(name):
            stored[name] = generators[name]()
            changed = True
    if changed:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
    return dataclasses.replace(config, **{n: stored[n] for n in missing})
