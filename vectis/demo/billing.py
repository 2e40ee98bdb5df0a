"""Contracts and monthly invoices of one customer.

Contract periods are whole calendar months counted back from the current month, so which months
are invoiced depends only on the random draws, never on the day `now` falls on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from . import vocabulary as words
from .accounts import CustomerProfile
from .context import DAY, Generation, month_start

INVOICED_MONTHS = 6
PAYMENT_TERMS = timedelta(days=30)
_HOURLY_RATE = 150.0


@dataclass(frozen=True)
class BillingLine:
    """What one contract bills each month while it runs."""
    starts_back: int  # months before the current one that the contract starts (<0: future)
    ends_back: int  # months before the current one that it ends, exclusive
    description: str
    quantity: float
    unit_price: float

    def bills_month(self, months_back: int) -> bool:
        return self.starts_back >= months_back > self.ends_back


def make_contracts(gen: Generation, profile: CustomerProfile,
                   customer_id: str) -> tuple[list[dict], list[BillingLine]]:
    if profile.status == "prospect":
        return [], []
    plan, rate = gen.pick(words.MANAGED_PLANS)
    agreements = [("managed_services", f"Managed Services Agreement - {plan}",
                   _managed_services_period(gen, profile.status), profile.seats, rate)]
    if profile.status == "active" and gen.chance(0.3):
        hours, starts_back = gen.pick((10, 20, 40)), gen.rng.randrange(12)
        agreements.append(("block_hours", f"Block Hours - {hours} h/month",
                           (starts_back, starts_back - 12), hours, _HOURLY_RATE))
    if profile.status == "active" and gen.chance(0.25):
        months, starts_back = gen.rng.randint(2, 4), gen.rng.randrange(8)
        fee = gen.rng.randint(8, 60) * 500
        agreements.append(("project", f"Project: {gen.pick(words.PROJECTS)}",
                           (starts_back, starts_back - months), 1, round(fee / months, 2)))
    contracts, lines = [], []
    for kind, name, (starts_back, ends_back), quantity, unit_price in agreements:
        line = BillingLine(starts_back, ends_back, name, quantity, unit_price)
        contracts.append(_contract(gen, customer_id, kind, name, line, profile.status))
        lines.append(line)
    return contracts, lines


def _managed_services_period(gen: Generation, customer_status: str) -> tuple[int, int]:
    term = gen.pick((12, 24, 36))
    if customer_status == "onboarding":
        starts_back = gen.pick((0, -1))  # started this month, or starts next month
    elif customer_status == "churned":
        starts_back = gen.rng.randint(1, 5) + term
    else:
        starts_back = gen.rng.randrange(term)
    return starts_back, starts_back - term


def _contract(gen: Generation, customer_id: str, kind: str, name: str, line: BillingLine,
              customer_status: str) -> dict:
    start_date = month_start(gen.now, line.starts_back)
    if line.starts_back < 0:
        status = "pending"
    elif line.ends_back >= 0:
        status = "cancelled" if customer_status == "churned" and gen.chance(0.3) else "expired"
    else:
        status = "active"
    created_at = min(start_date - timedelta(seconds=gen.rng.randint(7 * DAY, 30 * DAY)),
                     gen.now - timedelta(hours=1))
    psa = gen.sources["psa"]
    return {
        "_id": gen.new_id("ctr"), "customer_id": customer_id, "name": name, "kind": kind,
        "status": status, "start_date": start_date,
        "end_date": month_start(gen.now, line.ends_back),
        "monthly_value": round(line.quantity * line.unit_price, 2),
        "auto_renew": kind != "project" and gen.chance(0.6), "source_id": psa["_id"],
        "refs": gen.refs(psa, "contract"), "created_at": created_at, "updated_at": created_at,
    }


def recurring_revenue(contracts: list[dict]) -> float:
    """MRR: the booked monthly value of running or signed recurring agreements."""
    return round(sum((c["monthly_value"] for c in contracts
                      if c["kind"] != "project" and c["status"] in ("active", "pending")), 0.0), 2)


def make_invoices(gen: Generation, profile: CustomerProfile, customer_id: str,
                  lines: list[BillingLine]) -> list[dict]:
    licensed = gen.chance(0.7)
    invoices = []
    for months_back in range(INVOICED_MONTHS - 1, -1, -1):
        billed = [line for line in lines if line.bills_month(months_back)]
        if not billed:
            continue
        items = [_item(line.description, line.quantity, line.unit_price) for line in billed]
        if licensed:
            items.append(_item(words.LICENCE_LINE[0], profile.seats, words.LICENCE_LINE[1]))
        hardware, price = gen.pick(words.HARDWARE_SALES)
        quantity = gen.rng.randint(1, 3)
        if gen.chance(0.15):
            items.append(_item(hardware, quantity, price))
        invoices.append(_invoice(gen, customer_id, month_start(gen.now, months_back), items))
    return invoices


def _item(description: str, quantity: float, unit_price: float) -> dict:
    return {"description": description, "quantity": quantity, "unit_price": unit_price,
            "amount": round(quantity * unit_price, 2)}


def _invoice(gen: Generation, customer_id: str, issued_at, items: list[dict]) -> dict:
    # Every roll is drawn whatever the outcome, so the draws never depend on the calendar.
    void_roll, pay_roll, partial_roll = gen.rng.random(), gen.rng.random(), gen.rng.random()
    paid_after = timedelta(days=gen.rng.randint(2, 40))
    total = round(sum(item["amount"] for item in items), 2)
    due_at = issued_at + PAYMENT_TERMS
    if void_roll < 0.02:
        status, balance = "void", 0.0
    elif due_at < gen.now:
        status = "paid" if pay_roll < 0.88 else "overdue"
    else:
        status = "paid" if pay_roll < 0.3 else "open"
    if status in ("paid", "void"):
        balance = 0.0
    else:
        balance = total if partial_roll >= 0.3 else round(total / 2, 2)
    updated_at = min(issued_at + paid_after, gen.now) if status == "paid" else issued_at
    psa = gen.sources["psa"]
    gen.invoice_numbers += 1
    number = gen.invoice_numbers
    return {
        "_id": gen.new_id("inv"), "customer_id": customer_id, "number": f"INV-{number}",
        "status": status, "issued_at": issued_at, "due_at": due_at, "currency": "USD",
        "total": total, "balance": balance, "lines": items, "source_id": psa["_id"],
        "refs": gen.refs(psa, "invoice", str(number)), "created_at": issued_at,
        "updated_at": updated_at,
    }
