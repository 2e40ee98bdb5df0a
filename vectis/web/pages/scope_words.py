"""A customer scope as the operator pages show it: a sentence (customer_scope.in_words) with
customer names, and a short form for table cells that would otherwise hold 200 names."""
from __future__ import annotations

from dataclasses import dataclass

from ...customer_scope import CustomerScope, in_words

COMPACT = 3   # more customers than this: a table cell shows a count that opens to the list


@dataclass(frozen=True)
class ScopeView:
    everything: bool
    sentence: str
    customers: list[tuple[str, str]]   # (id, name; "" when the customer no longer exists)

    @property
    def count(self) -> str:
        count = len(self.customers)
        return "no customer" if count == 0 else "1 customer" if count == 1 else f"{count} customers"

    @property
    def short(self) -> str:
        return "All customers" if self.everything else f"Only {self.count}"

    @property
    def compact(self) -> bool:
        return self.everything or len(self.customers) <= COMPACT


def scope_view(scope: CustomerScope, names: dict[str, str]) -> ScopeView:
    sentence = in_words(scope, names)
    customers = [] if scope is None else sorted(((c, names.get(c, "")) for c in scope),
                                                key=lambda item: (item[1] or item[0], item[0]))
    return ScopeView(everything=scope is None, sentence=sentence[:1].upper() + sentence[1:],
                     customers=customers)


async def names_for(storage, slug: str, *scopes: CustomerScope) -> dict[str, str]:
    """Names of every customer the scopes name, in one read."""
    ids = sorted(set().union(*(s for s in scopes if s is not None))) if scopes else []
    return await storage.customers.names(slug, ids)
