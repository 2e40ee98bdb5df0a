"""`python server.py admin …`: tenants, operators and tokens, against the configured database.

With no MongoDB URI configured it uses the embedded database of the server running on the same
data directory, or starts that database for the duration of the command when no server runs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys

from pymongo.errors import PyMongoError

from ..config import Config, ConfigError
from ..credentials.issue import IssueError, issue_pat
from ..credentials.passwords import PasswordPolicyError, hash_password
from ..credentials.pats import hash_token
from ..embedded_db import EmbeddedDatabase, EmbeddedDatabaseError, running_instance
from ..scopes import ROLES
from ..storage import DomainTaken, InvalidSlug, Storage, TenantExists, UserExists, make_client
from .main import add_config_flags, config_from_args

CLI_MAX_EXPIRES_DAYS = 3650


class AdminError(Exception):
    """A user-facing failure: printed without a traceback, exit code 1."""


@contextlib.asynccontextmanager
async def open_storage(config: Config):
    embedded = None
    if config.mongo_uri:
        uri = config.mongo_uri
    elif (running := running_instance(config.data_dir)) is not None:
        uri = running["uri"]
    else:
        embedded = EmbeddedDatabase(config.data_dir, config.embedded_db_cache_size)
        uri = await asyncio.to_thread(embedded.start)
    storage = Storage(make_client(uri), config.db_prefix)
    try:
        await storage.db.ensure_control_indexes()
        yield storage
    finally:
        await storage.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def _tenant_or_fail(storage: Storage, slug: str) -> dict:
    try:
        tenant = await storage.tenants.get(slug)
    except InvalidSlug as exc:
        raise AdminError(str(exc)) from None
    if tenant is None:
        raise AdminError(f"no tenant {slug!r}")
    return tenant


async def create_tenant(storage: Storage, config: Config, args) -> str:
    try:
        await storage.tenants.create(args.slug, args.name, args.custom_domain)
    except InvalidSlug as exc:
        raise AdminError(str(exc)) from None
    except TenantExists:
        raise AdminError(f"tenant {args.slug!r} already exists") from None
    except DomainTaken:
        raise AdminError(f"custom domain {args.custom_domain!r} belongs to another tenant") from None
    return f"created tenant {args.slug} at {config.tenant_origin(args.slug)}"


async def create_user(storage: Storage, config: Config, args) -> str:
    from .admin_users import customers_option
    await _tenant_or_fail(storage, args.slug)
    if not args.password_stdin:
        raise AdminError("pass the password on standard input with --password-stdin")
    customers = await customers_option(storage, args.slug, args.customers)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        password_hash = hash_password(password)
        user = await storage.users.create(args.slug, args.email, args.name or args.email.split("@")[0],
                                          args.role, password_hash, customers=customers)
    except (PasswordPolicyError, ValueError) as exc:
        raise AdminError(str(exc)) from None
    except UserExists:
        raise AdminError(f"user {args.email!r} already exists in {args.slug}") from None
    return f"created {user['role']} {user['email']} ({user['_id']}) in {args.slug}"


async def issue_token(storage: Storage, config: Config, args) -> str:
    from .admin_users import customers_option
    await _tenant_or_fail(storage, args.slug)
    user = await storage.users.by_email(args.slug, args.email)
    if user is None or user.get("disabled"):
        raise AdminError(f"no active user {args.email!r} in {args.slug}")
    customers = await customers_option(storage, args.slug, args.customers)
    try:
        token, _ = await issue_pat(storage, config.token_pepper, args.slug, user, label=args.label,
                                   scopes=args.scopes, expires_days=args.expires_days,
                                   max_expires_days=CLI_MAX_EXPIRES_DAYS, customers=customers,
                                   approval_policy=args.approval)
    except IssueError as exc:
        if exc.field == "expires_days":
            raise AdminError(f"--expires-days must be between 1 and {CLI_MAX_EXPIRES_DAYS}") from None
        raise AdminError(str(exc)) from None
    return token


async def revoke_token(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    if args.token_stdin:
        token = sys.stdin.readline().strip()
        ids = await storage.pats.revoke(args.slug, token_hash=hash_token(config.token_pepper, token))
    elif args.id:
        ids = await storage.pats.revoke(args.slug, pat_id=args.id)
    else:
        ids = await storage.pats.revoke(args.slug, prefix=args.prefix)
    if not ids:
        raise AdminError("no live token matched")
    return f"revoked {', '.join(ids)}"


async def reset_mfa(storage: Storage, config: Config, args) -> str:
    from ..audit import audit_row
    await _tenant_or_fail(storage, args.slug)
    user = await storage.users.by_email(args.slug, args.email)
    if user is None:
        raise AdminError(f"no user {args.email!r} in {args.slug}")
    if not await storage.users.clear_mfa(args.slug, user["_id"]):
        return f"{user['email']} in {args.slug} has no two-factor authentication; nothing to do"
    await storage.audit.insert(args.slug, [audit_row(
        actor={"kind": "admin_cli", "user_id": None, "email": None}, action="mfa.disabled",
        status="success", kind="auth", target={"kind": "user", "id": user["_id"]},
        detail={"by": "admin reset-mfa"})])
    return f"reset two-factor authentication of {user['email']} ({user['_id']}) in {args.slug}"


async def list_tenants(storage: Storage, config: Config, args) -> str:
    tenants = await storage.tenants.list()
    if args.json:
        return json.dumps([{"slug": t["_id"], "name": t["name"], "status": t["status"],
                            "custom_domain": t.get("custom_domain"),
                            "origin": config.tenant_origin(t["_id"])} for t in tenants])
    rows = [f"{t['_id']:<20} {t['status']:<9} {config.tenant_origin(t['_id']):<45} {t['name']}"
            for t in tenants]
    return "\n".join(rows) if rows else "(no tenants)"


async def set_rate_limits(storage: Storage, config: Config, args) -> str:
    from ..ratelimit import DEFAULT_LIMITS, limits_for
    await _tenant_or_fail(storage, args.slug)
    limits = {name: getattr(args, name) for name in DEFAULT_LIMITS if getattr(args, name) is not None}
    if any(v < 0 or v > 10**9 for v in limits.values()):
        raise AdminError("limits are calls per minute, 0 to 1000000000")
    tenant = await storage.tenants.set_rate_limits(args.slug, limits, reset=args.reset)
    return json.dumps(limits_for(tenant.get("settings") or {}))


async def seed_data(storage: Storage, config: Config, args) -> str:
    from ..demo.seed import DEMO_TENANTS, demo_passwords, seed_tenant
    passwords = demo_passwords(config.data_dir).get(args.slug, {})
    inserted = await seed_tenant(storage, args.slug, DEMO_TENANTS.get(args.slug, args.slug.title()),
                                 passwords=passwords, customers=args.customers,
                                 tickets_per_customer=args.tickets_per_customer)
    return json.dumps(inserted)


def source_settings(source: dict) -> dict:
    """name -> {value, default, help, set}: every setting the source's vendor declares, with the
    value in force (the source's own, else the default; None = asked of the vendor)."""
    from ..vendors.registry import VENDORS, connector_class
    if source.get("vendor") not in VENDORS:
        return {}
    chosen = source.get("settings") or {}
    return {s.name: {"value": chosen.get(s.name, s.default), "default": s.default,
                     "set": s.name in chosen, "help": s.help}
            for s in connector_class(source["vendor"]).settings}


def _settings_text(settings: dict) -> str:
    shown = [f"{name}={'(asked of the vendor)' if v['value'] is None else v['value']}"
             f"{'' if v['set'] else ' (default)'}" for name, v in settings.items()]
    return "; ".join(shown) or "-"


async def list_sources(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    sources = await storage.sources.list(args.slug)
    rows = [{"id": s["_id"], "kind": s["kind"], "vendor": s["vendor"], "status": s["status"],
             "base_url": s.get("base_url"), "settings": source_settings(s)} for s in sources]
    if args.json:
        return json.dumps(rows)
    lines = [f"{r['id']:<22} {r['kind']:<7} {r['vendor']:<12} {r['status']:<10} {r['base_url'] or '-'}"
             f"\n{'':<22} settings: {_settings_text(r['settings'])}" for r in rows]
    return "\n".join(lines) if lines else "(no sources)"


def _setting_changes(source: dict, pairs: list[str]) -> dict:
    """`NAME=VALUE` pairs checked against the vendor's settings: name -> parsed value, or None
    for `NAME=` (back to the default)."""
    from ..vendors.base import check_settings
    from ..vendors.registry import connector_class
    declared = connector_class(source["vendor"]).settings
    changes: dict = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise AdminError(f"--setting takes NAME=VALUE, not {pair!r}")
        changes[name.strip()] = value
    try:
        # A reset is checked by name only: its placeholder value is never stored.
        parsed = check_settings(source["vendor"], declared,
                                {k: v for k, v in changes.items() if v != ""})
        unknown = [k for k, v in changes.items() if v == "" and k not in {s.name for s in declared}]
        if unknown:
            check_settings(source["vendor"], declared, {unknown[0]: "x"})
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    return {name: parsed.get(name) for name in changes}


async def connect_source(storage: Storage, config: Config, args) -> str:
    """Point a source at its vendor and store its credentials (JSON on stdin), encrypted."""
    from urllib.parse import urlsplit

    from ..config import decode_key
    from ..vendors.connections import Connections
    from ..vendors.http import VendorHttp
    await _tenant_or_fail(storage, args.slug)
    source = await storage.sources.get(args.slug, args.source_id)
    if source is None:
        raise AdminError(f"no source {args.source_id!r} in {args.slug} (see list-sources)")
    changes = _setting_changes(source, args.setting or [])
    if args.base_url is None:
        if args.credentials_stdin or not changes:
            raise AdminError("give --base-url with --credentials-stdin to connect the source, "
                             "or --setting NAME=VALUE to change its settings")
        updated = await storage.sources.set_settings(args.slug, args.source_id, changes)
        return json.dumps({"source_id": args.source_id, "vendor": source["vendor"],
                           "settings": source_settings(updated or source)}, default=str)
    if not args.credentials_stdin:
        raise AdminError("--base-url needs --credentials-stdin (the source's credentials as JSON)")
    parts = urlsplit(args.base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise AdminError("--base-url must be an http(s) URL without query or fragment")
    if parts.scheme == "http" and config.production:
        raise AdminError("production sources must use https")
    try:
        credentials = json.loads(sys.stdin.read())
    except ValueError:
        raise AdminError("standard input must be a JSON object of credentials") from None
    if not isinstance(credentials, dict) or not credentials or not all(
            isinstance(k, str) and isinstance(v, str | int) for k, v in credentials.items()):
        raise AdminError("standard input must be a JSON object of string credentials")
    connections = Connections(storage, decode_key(config.encryption_key), VendorHttp())
    await connections.connect(args.slug, args.source_id, args.base_url.rstrip("/"), credentials)
    if changes:
        source = await storage.sources.set_settings(args.slug, args.source_id, changes) or source
    return json.dumps({"source_id": args.source_id, "vendor": source["vendor"],
                       "base_url": args.base_url.rstrip("/"), "status": "connected",
                       "settings": source_settings(source)}, default=str)


async def sync_now(storage: Storage, config: Config, args) -> str:
    """Run a sync of one source (or every source of the tenant) in this process, under the same
    lease a server takes, and print what it did."""
    from ..config import decode_key
    from ..sync.engine import SourceBusy, SyncEngine
    from ..vendors.connections import Connections
    from ..vendors.http import VendorHttp
    await _tenant_or_fail(storage, args.slug)
    sources = [s for s in await storage.sources.list(args.slug)
               if args.source is None or s["_id"] == args.source]
    if not sources:
        raise AdminError(f"no source {args.source!r} in {args.slug} (see list-sources)")
    connections = Connections(storage, decode_key(config.encryption_key), VendorHttp())
    engine = SyncEngine(storage, connections)
    out = {}
    try:
        for source in sources:
            try:
                reports = await engine.sync_source(args.slug, source["_id"],
                                                   entities=tuple(args.entity) if args.entity else None)
            except SourceBusy as exc:
                out[source["_id"]] = {"error": str(exc)}
                continue
            out[source["_id"]] = {r.entity: {"ok": r.ok, "mode": r.mode, "counts": r.counts,
                                             "error": r.error, "seconds": r.seconds} for r in reports}
    finally:
        await connections.http.close()
    return json.dumps(out, indent=2)


async def sync_status(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    rows = []
    for source in await storage.sources.list(args.slug):
        rows.append({"id": source["_id"], "vendor": source["vendor"], "status": source["status"],
                     "last_sync_at": source.get("last_sync_at"), "last_error": source.get("last_sync_error"),
                     "next_run_at": source.get("sync_next_run_at"),
                     "entities": {entity: {k: state.get(k) for k in
                                           ("mode", "last_success_at", "last_error", "counts", "cursor")}
                                  for entity, state in (source.get("sync") or {}).items()}})
    return json.dumps(rows, indent=2, default=str)


async def rotate_signing_key(storage: Storage, config: Config, args) -> str:
    from ..config import decode_key
    from ..oauth.keys import SigningKeys
    await _tenant_or_fail(storage, args.slug)
    return await SigningKeys(storage, decode_key(config.encryption_key)).rotate(args.slug)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python server.py admin",
                                     description="Administer tenants, operators and tokens.")
    add_config_flags(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("create-tenant", help="create a tenant")
    p.add_argument("slug")
    p.add_argument("--name", required=True)
    p.add_argument("--custom-domain")
    p.set_defaults(run=create_tenant)

    p = sub.add_parser("create-user", help="create an operator; password on standard input")
    p.add_argument("slug")
    p.add_argument("email")
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--name")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--customers", help="comma-separated customer ids (cus_…): the operator sees and "
                                       "acts on only these; default all customers")
    p.set_defaults(run=create_user)

    p = sub.add_parser("issue-token", help="issue a personal access token (prints only the token)")
    p.add_argument("slug")
    p.add_argument("email")
    p.add_argument("--scopes", required=True, help="comma-separated scopes")
    p.add_argument("--label", required=True)
    p.add_argument("--expires-days", type=int)
    p.add_argument("--customers", help="comma-separated customer ids (cus_…): narrow the token to "
                                       "these (within the operator's own); default the operator's")
    p.add_argument("--approval", choices=("none", "customer_visible", "all"),
                   help="ask for more human approval of this token's writes than the tenant's "
                        "policy (never less: the stricter applies)")
    p.set_defaults(run=issue_token)

    p = sub.add_parser("revoke-token", help="revoke a token by id, display prefix, or value on stdin")
    p.add_argument("slug")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--id")
    who.add_argument("--prefix")
    who.add_argument("--token-stdin", action="store_true")
    p.set_defaults(run=revoke_token)

    p = sub.add_parser("reset-mfa", help="turn off an operator's two-factor authentication")
    p.add_argument("slug")
    p.add_argument("email")
    p.set_defaults(run=reset_mfa)

    p = sub.add_parser("list-tenants", help="list tenants")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=list_tenants)

    p = sub.add_parser("set-rate-limits", help="per-tenant rate limits (calls per minute); prints the result")
    p.add_argument("slug")
    for name in ("credential_read", "credential_write", "tenant_read", "tenant_write"):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=int, metavar="N")
    p.add_argument("--reset", action="store_true", help="back to the defaults")
    p.set_defaults(run=set_rate_limits)

    p = sub.add_parser("list-sources", help="a tenant's PSA/RMM/backup sources (never credentials)")
    p.add_argument("slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=list_sources)

    p = sub.add_parser("connect-source", help="set a source's API URL and its credentials "
                                              "(a JSON object on standard input, stored encrypted), "
                                              "and/or its vendor settings")
    p.add_argument("slug")
    p.add_argument("source_id")
    p.add_argument("--base-url")
    p.add_argument("--credentials-stdin", action="store_true")
    p.add_argument("--setting", action="append", metavar="NAME=VALUE",
                   help="a vendor setting (list-sources shows them); NAME= restores the default")
    p.set_defaults(run=connect_source)

    p = sub.add_parser("sync-now", help="sync a tenant's sources now (or one with --source)")
    p.add_argument("slug")
    p.add_argument("--source")
    p.add_argument("--entity", action="append", help="only this entity (repeatable)")
    p.set_defaults(run=sync_now)

    p = sub.add_parser("sync-status", help="per source: last sync, last error, per-entity counts")
    p.add_argument("slug")
    p.set_defaults(run=sync_status)

    p = sub.add_parser("rotate-signing-key",
                       help="new OAuth token signing key for a tenant (prints its key id); "
                            "tokens signed before keep working until they expire")
    p.add_argument("slug")
    p.set_defaults(run=rotate_signing_key)

    p = sub.add_parser("seed-data", help="load generated MSP data into a tenant (demo, benchmarks)")
    p.add_argument("slug")
    p.add_argument("--customers", type=int, default=40)
    p.add_argument("--tickets-per-customer", type=float, default=12.0)
    p.set_defaults(run=seed_data)

    from .admin_approvals import add_approval_commands
    from .admin_rules import add_rule_commands  # imports this module: registered once it is loaded
    from .admin_users import add_user_commands
    add_rule_commands(sub)
    add_user_commands(sub)
    add_approval_commands(sub)
    for command in sub.choices.values():          # the configuration flags after the command too
        add_config_flags(command, suppress=True)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"vectis admin: {exc}", file=sys.stderr)
        return 2

    async def run() -> str:
        async with open_storage(config) as storage:
            return await args.run(storage, config, args)

    try:
        output = asyncio.run(run())
    except (AdminError, EmbeddedDatabaseError) as exc:
        print(f"vectis admin: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"vectis admin: the database did not answer: {type(exc).__name__}", file=sys.stderr)
        return 1
    print(output)
    return 0
