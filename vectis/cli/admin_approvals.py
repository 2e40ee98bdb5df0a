"""`admin set-approval-policy`: which AI writes of a tenant wait for a person (docs/writes.md)."""
from __future__ import annotations

from ..approvals.policy import DESCRIPTIONS, POLICIES
from ..config import Config
from ..storage import Storage
from .admin import _tenant_or_fail


async def set_approval_policy(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    await storage.tenants.set_approval_policy(args.slug, args.policy)
    return (f"{args.slug}: approval policy {args.policy}. {DESCRIPTIONS[args.policy]} Every process "
            "applies it within the tenant cache time (tenant_cache_seconds).")


def add_approval_commands(sub) -> None:
    p = sub.add_parser("set-approval-policy", help="which AI writes wait for a person's approval: "
                                                   + ", ".join(POLICIES))
    p.add_argument("slug")
    p.add_argument("policy", choices=POLICIES)
    p.set_defaults(run=set_approval_policy)
