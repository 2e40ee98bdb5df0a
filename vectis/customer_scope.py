"""Customer scope: which customers of a tenant a principal may see and act on.

A scope is `None` (every customer of the tenant) or a frozenset of customer ids. A user may be
restricted; each of the user's credentials may narrow that further and never widen it: the
effective scope is the intersection of every limit that applies (`narrow`). An empty scope is
valid and sees nothing. Enforcement is the storage layer's (vectis.storage.scoped), never a
tool's.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

CustomerScope = frozenset[str] | None

CUSTOMER_ID_RE = re.compile(r"^cus_[a-z0-9]{4,40}$")
MAX_SCOPE_CUSTOMERS = 200   # a co-managed or contractor account names a few; a list this long is a mistake


class CustomerScopeError(ValueError):
    """A customer list that cannot be used; the message is safe to show an operator."""


def parse_customer_ids(value: str | Iterable[str]) -> frozenset[str]:
    """Customer ids from "cus_a,cus_b" (commas or spaces) or a list, checked for form; at least one."""
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    items = [i for i in items if i]
    bad = [i for i in items if not CUSTOMER_ID_RE.match(i)]
    if bad:
        raise CustomerScopeError(f"not a customer id: {', '.join(sorted(bad)[:5])[:200]} (ids look like cus_…)")
    if not items:
        raise CustomerScopeError("name at least one customer id")
    ids = frozenset(items)
    if len(ids) > MAX_SCOPE_CUSTOMERS:
        raise CustomerScopeError(f"at most {MAX_SCOPE_CUSTOMERS} customers")
    return ids


def narrow(*limits: Iterable[str] | None) -> CustomerScope:
    """The intersection of every limit given; None (all customers) when none limits."""
    scope: CustomerScope = None
    for limit in limits:
        if limit is None:
            continue
        scope = frozenset(limit) if scope is None else scope & frozenset(limit)
    return scope


def stored(scope: CustomerScope) -> list[str] | None:
    """A scope as stored on a user, token or grant: a sorted list, or None for all customers."""
    return None if scope is None else sorted(scope)


def within(requested: CustomerScope, limit: CustomerScope) -> bool:
    """Whether `requested` narrows `limit` (every customer it names is inside it)."""
    if limit is None:
        return True
    return requested is not None and requested <= limit


def in_words(scope: CustomerScope, names: dict[str, str] | None = None) -> str:
    """One sentence for people and models: what this scope lets a credential see."""
    if scope is None:
        return "every customer of this tenant"
    if not scope:
        return "no customer (its customer list is empty, so it sees nothing)"
    names = names or {}
    shown = [f"{names[c]} ({c})" if c in names else c for c in sorted(scope, key=lambda c: (names.get(c, c), c))]
    return ("only the customer " if len(shown) == 1 else f"only these {len(shown)} customers: ") + ", ".join(shown)


async def existing(storage, slug: str, ids: frozenset[str]) -> dict[str, str]:
    """Names of ids, all of which must be customers of the tenant (else CustomerScopeError)."""
    names = await storage.customers.names(slug, sorted(ids))
    unknown = sorted(ids - set(names))
    if unknown:
        raise CustomerScopeError(f"no customer {', '.join(unknown[:5])} in this tenant")
    return names
