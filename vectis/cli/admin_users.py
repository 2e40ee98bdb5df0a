"""`admin list-users` / `admin set-user-customers`, and the `--customers` option that
create-user and issue-token share: which customers an operator, or one token, may see."""
from __future__ import annotations

import json

from ..config import Config
from ..customer_scope import CustomerScopeError, existing, in_words, narrow, parse_customer_ids
from ..storage import Storage
from .admin import AdminError, _tenant_or_fail

CUSTOMERS_HELP = ("comma-separated customer ids (cus_…): only these customers' data is visible and "
                  "writable; default all customers")


async def customers_option(storage: Storage, slug: str, value: str | None) -> frozenset[str] | None:
    """The --customers value checked: well-formed ids of this tenant's customers; None if absent."""
    if value is None:
        return None
    try:
        customers = parse_customer_ids(value)
        await existing(storage, slug, customers)
    except CustomerScopeError as exc:
        raise AdminError(f"--customers: {exc}") from None
    return customers


async def list_users(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    users = await storage.users.list(args.slug)
    if args.json:
        return json.dumps([{"id": u["_id"], "email": u["email"], "name": u.get("name", ""),
                            "role": u["role"], "disabled": bool(u.get("disabled")),
                            "customers": u.get("customers")} for u in users])
    rows = []
    for user in users:
        limit = user.get("customers")
        names = await storage.customers.names(args.slug, limit) if limit else {}
        sees = in_words(narrow(limit), names)
        state = " (disabled)" if user.get("disabled") else ""
        rows.append(f"{user['email']:<32} {user['role']:<10} {user['_id']}{state}  sees {sees}")
    return "\n".join(rows) if rows else "(no users)"


async def set_user_customers(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    user = await storage.users.by_email(args.slug, args.email)
    if user is None:
        raise AdminError(f"no user {args.email!r} in {args.slug}")
    customers = None if args.all else await customers_option(storage, args.slug, args.customers)
    await storage.users.set_customers(args.slug, user["_id"], customers)
    names = await storage.customers.names(args.slug, sorted(customers)) if customers else {}
    return (f"{user['email']} in {args.slug} now sees {in_words(customers, names)}; every credential "
            "of theirs follows within the auth cache time (auth_cache_seconds)")


def add_user_commands(sub) -> None:
    p = sub.add_parser("list-users", help="list a tenant's operators, their roles and customers")
    p.add_argument("slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=list_users)

    p = sub.add_parser("set-user-customers",
                       help="limit an operator (and every token of theirs) to some customers, or "
                            "lift the limit with --all")
    p.add_argument("slug")
    p.add_argument("email")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--customers", help=CUSTOMERS_HELP)
    which.add_argument("--all", action="store_true", help="every customer of the tenant")
    p.set_defaults(run=set_user_customers)
