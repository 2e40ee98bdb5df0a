"""Issuing a personal access token: one set of rules for the admin CLI and the operator pages."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..approvals.policy import POLICIES
from ..customer_scope import CustomerScopeError, existing, narrow, within
from ..scopes import ScopeError, effective_scopes, parse_scopes
from ..storage import Storage
from .pats import display_prefix, generate_pat, hash_token

MAX_LABEL_LENGTH = 100


class IssueError(ValueError):
    """The request cannot be honoured; the message is safe to show to the operator."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field  # "scopes", "label", "expires_days", "customers" or "user"


def check_request(user: dict, label: str, scopes, expires_days: int | None,
                  max_expires_days: int) -> tuple[str, tuple[str, ...], datetime | None]:
    """Validate label, scopes (known, and within the user's role) and expiry; normalized values."""
    try:
        scopes = parse_scopes(scopes)
    except ScopeError as exc:
        raise IssueError(str(exc), "scopes") from None
    beyond_role = sorted(set(scopes) - effective_scopes(scopes, user["role"]))
    if beyond_role:
        raise IssueError(f"role {user['role']} cannot hold: {', '.join(beyond_role)}", "scopes")
    label = label.strip()
    if not label or len(label) > MAX_LABEL_LENGTH:
        raise IssueError(f"label must be 1-{MAX_LABEL_LENGTH} characters", "label")
    expires_at = None
    if expires_days is not None:
        if not 1 <= expires_days <= max_expires_days:
            raise IssueError(f"expiry must be between 1 and {max_expires_days} days", "expires_days")
        expires_at = datetime.now(UTC) + timedelta(days=expires_days)
    return label, scopes, expires_at


async def check_customers(storage: Storage, slug: str, user: dict,
                          customers: frozenset[str] | None) -> None:
    """A token may narrow its user's customers, never widen them; every id must exist."""
    if customers is None:
        return
    limit = user.get("customers")
    if not within(customers, narrow(limit)):
        outside = sorted(customers - frozenset(limit))
        raise IssueError(f"{user['email']} is limited to other customers; not theirs: "
                         f"{', '.join(outside[:5])}", "customers")
    try:
        await existing(storage, slug, customers)
    except CustomerScopeError as exc:
        raise IssueError(str(exc), "customers") from None


async def issue_pat(storage: Storage, pepper: str, slug: str, user: dict, *, label: str, scopes,
                    expires_days: int | None, max_expires_days: int,
                    customers: frozenset[str] | None = None,
                    approval_policy: str | None = None) -> tuple[str, dict]:
    """Create the token; returns (raw value, stored document). The raw value exists only here.
    customers: narrow the token to these (None: the user's own customer scope)."""
    if user.get("disabled", "user"):
        raise IssueError("the user is disabled", "user")
    label, scopes, expires_at = check_request(user, label, scopes, expires_days, max_expires_days)
    await check_customers(storage, slug, user, customers)
    if approval_policy is not None and approval_policy not in POLICIES:
        raise IssueError(f"approval policy must be one of {', '.join(POLICIES)}", "approval_policy")
    token = generate_pat()
    doc = await storage.pats.insert(slug, token_hash=hash_token(pepper, token),
                                    prefix=display_prefix(token), label=label, scopes=scopes,
                                    user_id=user["_id"], expires_at=expires_at, customers=customers,
                                    approval_policy=approval_policy)
    return token, doc
