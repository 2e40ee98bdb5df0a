"""The authenticated caller of one request."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Principal:
    tenant: str
    kind: str                  # "pat" or "oauth"
    credential_id: str         # pat id or OAuth grant id
    user_id: str
    email: str
    name: str
    role: str
    scopes: frozenset[str]     # effective: credential scopes ∩ role scopes
    expires_at: datetime | None = None
    elevated_until: datetime | None = None
    client_id: str | None = None
    # None: every customer of the tenant; else only these (vectis.customer_scope).
    customers: frozenset[str] | None = None
    # A credential may ask for more human approval of its writes than its tenant (approvals.policy).
    approval_policy: str | None = None

    def live(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.expires_at is None or now < self.expires_at

    def elevated(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.elevated_until is not None and now < self.elevated_until

    @property
    def restricted(self) -> bool:
        return self.customers is not None

    def audit_actor(self) -> dict:
        actor = {"kind": self.kind, "credential_id": self.credential_id, "user_id": self.user_id,
                 "email": self.email, "client_id": self.client_id}
        if self.customers is not None:
            actor["customers"] = sorted(self.customers)
        return actor
