"""Configuration: defaults < TOML file < credentials < VECTIS_* environment < command-line flags.

Credentials are files named after a secret setting in $CREDENTIALS_DIRECTORY (what systemd's
LoadCredential= provides). They beat the file, which is often readable by more people than the
secret should be; the environment still wins so one run can be pointed elsewhere by hand.

Every setting is declared once, in settings.py.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import BY_NAME, SETTINGS, Setting

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
    approval_expiry_hours: int
    sync_interval_seconds: float
    sync_concurrency: int
    rules_worker: str
    oauth_cimd_allow_networks: str
    oauth_cimd_ca_file: str
    log_level: str
    shutdown_grace_seconds: float
    metrics_port: int
    metrics_host: str
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


# URI options whose values are secrets (compared in lower case, as MongoDB's option names are).
SECRET_URI_OPTIONS = frozenset({"tlscertificatekeyfilepassword", "sslclientcertificatekeypassword",
                                "authmechanismproperties", "proxypassword"})


def redact_uri(uri: str) -> str:
    """Hide the password and secret options of a MongoDB URI, keep the rest for diagnosis. The
    URI is split as the driver splits it (the user information ends at the last "@" before the
    first "/"), not as a URL: a password may hold "#" or "?", which a URL parser would take for
    the start of a fragment or a query, and print."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "***"
    hosts, slash, tail = rest.partition("/")
    userinfo, at, hosts = hosts.rpartition("@")
    if not slash and "?" in hosts:        # options straight after the hosts
        hosts, _, options = hosts.partition("?")
        tail = "?" + options
    if at:
        user, colon, _password = userinfo.partition(":")
        hosts = f"{user}:***@{hosts}" if colon else f"{user}@{hosts}"
    path, question, query = tail.partition("?")
    if question:
        query = "&".join(
            f"{name}=***" if eq and name.lower() in SECRET_URI_OPTIONS else f"{name}{eq}{value}"
            for name, eq, value in (item.partition("=") for item in query.split("&")))
    return f"{scheme}://{hosts}{slash}{path}{question}{query}"


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
        shown = f"{type(raw).__name__} (value hidden)" if setting.secret else repr(raw)
        return None, f"{setting.name}: expected {setting.kind.__name__}, got {shown} (from {origin})"
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
            if key not in BY_NAME:
                problems.append(f"{key}: unknown setting in {path}")
            else:
                raw[key] = (value, str(path))

    _read_credentials(env.get(CREDENTIALS_ENV), raw, problems)

    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in BY_NAME:
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
        if not isinstance(stored, dict) or not all(isinstance(v, str) for v in stored.values()):
            raise ConfigError([f"{path}: not the generated secrets (an object of strings); fix or delete it"])
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
