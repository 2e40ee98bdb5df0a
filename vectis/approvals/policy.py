"""Which writes need a person's approval before they reach a vendor.

A tenant chooses one policy (tenant settings `approval_policy`, default "none": writes behave
exactly as the public documentation describes). A token may ask for more approval than its
tenant, never less: the stricter of the two applies, so an operator cannot exempt an AI client
from the policy their admin set.
"""
from __future__ import annotations

POLICIES = ("none", "customer_visible", "all")
DEFAULT_POLICY = "none"
# What the MSP's customer sees: an e-mailed reply, a new or closed ticket, a resolved alert.
# Internal notes and alert acknowledgements stay inside the MSP.
CUSTOMER_VISIBLE = frozenset({"create_ticket", "reply_to_ticket", "close_ticket", "resolve_alert"})
DESCRIPTIONS = {
    "none": "No write waits for a person (the default).",
    "customer_visible": "Writes the customer sees wait for a person: create_ticket, reply_to_ticket, "
                        "close_ticket and resolve_alert.",
    "all": "Every vendor write waits for a person.",
}
# The same in a few words, for a form choice or a table cell.
IN_WORDS = {
    "none": "no write waits for a person",
    "customer_visible": "writes the customer sees wait for a person",
    "all": "every write waits for a person",
}


class PolicyError(ValueError):
    pass


def check_policy(value: str) -> str:
    if value not in POLICIES:
        raise PolicyError(f"approval policy must be one of {', '.join(POLICIES)}")
    return value


def tenant_policy(tenant_settings: dict | None) -> str:
    policy = (tenant_settings or {}).get("approval_policy") or DEFAULT_POLICY
    return policy if policy in POLICIES else "all"    # an unknown stored value fails closed


def stricter_than(policy: str) -> list[str]:
    """The policies a token may ask for on top of `policy`, loosest first."""
    return list(POLICIES[POLICIES.index(policy) + 1:])


def effective_policy(tenant_settings: dict | None, token_policy: str | None) -> str:
    base = tenant_policy(tenant_settings)
    candidates = [base] + ([token_policy] if token_policy in POLICIES else [])
    return max(candidates, key=POLICIES.index)


def needs_approval(policy: str, tool: str) -> bool:
    if policy == "all":
        return True
    return policy == "customer_visible" and tool in CUSTOMER_VISIBLE
