"""The scope vocabulary and what each operator role may hold."""
from __future__ import annotations

READ_SCOPES = (
    "read:customers", "read:tickets", "read:search", "read:alerts", "read:assets",
    "read:contracts", "read:billing", "read:notes",
)
WRITE_SCOPES = ("write:tickets", "write:alerts", "write:notes", "run:rules")
ALL_SCOPES = READ_SCOPES + WRITE_SCOPES

# What each scope lets a client do, in the words the token and consent pages show an operator.
# Kept next to the vocabulary so a new scope cannot ship without its sentence (tests check it).
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "read:customers": "See your customers: contacts, contract value, health and open counts.",
    "read:tickets": "Read tickets, your assigned tickets and the audit history of a ticket.",
    "read:search": "Search tickets and everything else by text, and read the rules and their runs.",
    "read:alerts": "Read RMM alerts.",
    "read:assets": "Read devices and see which backups are failing.",
    "read:contracts": "Read customers' contracts.",
    "read:billing": "Read invoices.",
    "read:notes": "Read the recent notes technicians wrote on tickets, alerts and devices.",
    "write:tickets": "Create tickets in your PSA and close them (closing needs an elevated token).",
    "write:alerts": "Acknowledge and resolve RMM alerts.",
    "write:notes": "Post internal notes and replies your customers see on tickets.",
    "run:rules": "Run a rule by hand, as a dry run unless asked otherwise (needs an elevated token).",
}

ROLES = ("admin", "technician", "readonly")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(ALL_SCOPES),
    "technician": frozenset(ALL_SCOPES),
    "readonly": frozenset(READ_SCOPES),
}


class ScopeError(ValueError):
    pass


def parse_scopes(items: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate a comma/space separated string or a list; keep the canonical order."""
    if isinstance(items, str):
        items = [p for p in items.replace(",", " ").split() if p]
    unknown = sorted(set(items) - set(ALL_SCOPES))
    if unknown:
        raise ScopeError(f"unknown scope(s): {', '.join(unknown)}; known: {' '.join(ALL_SCOPES)}")
    if not items:
        raise ScopeError("at least one scope is required")
    return tuple(s for s in ALL_SCOPES if s in set(items))


def effective_scopes(credential_scopes, role: str) -> frozenset[str]:
    return frozenset(credential_scopes) & ROLE_SCOPES.get(role, frozenset())
