"""`admin rules-export` / `admin rules-import`: a tenant's rules as the JSON operators write,
so rules can be kept in version control and moved between tenants.

Import is all or nothing: every rule is validated, and every name and owner checked, before the
first one is written.
"""
from __future__ import annotations

import json
import sys

from ..config import Config
from ..ids import new_id
from ..storage import Storage
from ..storage.rules import DEFINITION_FIELDS, RuleNameTaken
from .admin import AdminError, _tenant_or_fail

OWNER_ROLES = ("admin", "technician")   # readonly operators cannot hold write scopes


async def rules_export(storage: Storage, config: Config, args) -> str:
    await _tenant_or_fail(storage, args.slug)
    rules = await storage.rules.all(args.slug)
    return json.dumps([{"id": rule["_id"], **{k: rule[k] for k in DEFINITION_FIELDS if k in rule}}
                       for rule in rules], indent=2, ensure_ascii=False, default=str)


async def rules_import(storage: Storage, config: Config, args) -> str:
    # The write tools' schemas load with vectis.rules.model: only when a command uses them.
    from ..rules.definitions import plan_rules
    await _tenant_or_fail(storage, args.slug)
    try:
        items = json.loads(sys.stdin.read())
    except ValueError as exc:
        raise AdminError(f"standard input must be a JSON array of rules: {exc}") from None
    if not isinstance(items, list):
        raise AdminError("standard input must be a JSON array of rules (as rules-export prints)")
    plan, problems = plan_rules(items, await storage.rules.all(args.slug))
    owner = await _owner(storage, args, [p.label for p in plan if p.target is None], problems)
    if problems:
        raise AdminError(f"{len(problems)} problem(s); nothing imported:\n"
                         + "\n".join(f"  {problem}" for problem in problems))
    inserted = replaced = 0
    try:
        for planned in plan:
            if planned.target is None:
                await storage.rules.insert(args.slug, {"_id": new_id("rul"), **planned.rule,
                                                       "owner_user_id": owner["_id"]})
                inserted += 1
            else:
                await storage.rules.replace(args.slug, planned.target["_id"], planned.rule)
                replaced += 1
    except RuleNameTaken as exc:
        # Only a concurrent change can get here: names were checked against the stored rules.
        raise AdminError(f"rule name {exc} was taken while importing; {inserted} inserted and "
                         f"{replaced} replaced before it. Run the import again.") from None
    return json.dumps({"inserted": inserted, "replaced": replaced})


async def _owner(storage: Storage, args, new_rules: list[str], problems: list[str]) -> dict | None:
    """The operator new rules run as: their actions act with this person's authority."""
    if not args.owner:
        if new_rules:
            problems.append(f"--owner EMAIL is required to create new rules ({', '.join(new_rules)}): "
                            "their actions run as that operator")
        return None
    user = await storage.users.by_email(args.slug, args.owner)
    if user is None or user.get("disabled"):
        problems.append(f"--owner: no active operator {args.owner!r} in {args.slug}")
        return None
    if user.get("role") not in OWNER_ROLES:
        problems.append(f"--owner: {user['email']} is {user.get('role')}; a rule owner must be "
                        f"{' or '.join(OWNER_ROLES)}")
        return None
    return user


def add_rule_commands(sub) -> None:
    p = sub.add_parser("rules-export", help="print a tenant's rules as a JSON array (with their ids)")
    p.add_argument("slug")
    p.set_defaults(run=rules_export)

    p = sub.add_parser("rules-import",
                       help="create or replace rules from a JSON array on standard input (all or "
                            "nothing); a rule is matched by id, then by name")
    p.add_argument("slug")
    p.add_argument("--owner", metavar="EMAIL",
                   help="admin or technician new rules run as (required when creating rules; "
                        "replaced rules keep their owner)")
    p.set_defaults(run=rules_import)
