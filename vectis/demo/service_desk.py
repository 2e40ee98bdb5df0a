"""Tickets, their threads and operator notes of one customer."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..vendors.halopsa.reader import action_ref
from . import vocabulary as words
from .context import DAY, Generation

OPEN_STATUSES = ("new", "open", "in_progress", "waiting")
PRIORITIES = ("low", "medium", "high", "critical")
_MAX_AGE = 120 * DAY
_MIN_AGE = 1800
_AUTO_CLOSE_AFTER = 3 * DAY
# Share of tickets already resolved by age: (younger than, share)
_FINISHED_SHARE = ((DAY, 0.15), (3 * DAY, 0.4), (14 * DAY, 0.7), (None, 0.95))
_PORTAL_SHARE = 0.06


def make_tickets(gen: Generation, customer_id: str, *, since: datetime, contacts: list[dict],
                 assets: list[dict], count: int) -> tuple[list[dict], list[dict]]:
    """`count` tickets, none older than the customer, and all their messages."""
    fillers = _placeholder_values(assets)
    max_age = min(_MAX_AGE, int((gen.now - since).total_seconds()))
    tickets, messages = [], []
    for _ in range(count):
        ticket, thread = _ticket(gen, customer_id, contacts, fillers, max_age)
        tickets.append(ticket)
        messages += thread
    return tickets, messages


def _placeholder_values(assets: list[dict]) -> dict[str, list[str]]:
    servers = [a["name"] for a in assets if a["kind"] in ("server", "virtual_machine")]
    computers = [a["name"] for a in assets if a["kind"] in ("workstation", "laptop")]
    return {"server": servers or ["the file server"], "ws": computers or ["my PC"],
            "app": list(words.APPS), "floor": list(words.FLOORS)}


def _ticket(gen: Generation, customer_id: str, contacts: list[dict],
            fillers: dict[str, list[str]], max_age: int) -> tuple[dict, list[dict]]:
    subject, description, priority, resolution = _topic(gen, fillers)
    # at least half an hour old; recent tickets are more common
    age = _MIN_AGE + int((max_age - _MIN_AGE) * gen.rng.random() ** 1.4)
    created_at = gen.now - timedelta(seconds=age)
    finished = gen.chance(_finished_share(age))
    status = "resolved" if finished else _open_status(gen, age)
    assignee = _assignee(gen, status)
    requester = contacts[0] if gen.chance(0.3) else gen.pick(contacts)
    technician = assignee or gen.operator_author(gen.pick(gen.operators))
    portal = gen.chance(_PORTAL_SHARE)
    source = None if portal else gen.sources["psa"]
    roles, offsets, status = _thread_timeline(gen, status, age)
    ticket_id = gen.new_id("tkt")
    thread = [
        _message(gen, ticket_id, source, role, created_at + timedelta(seconds=offset),
                 body=description if index == 0 else _body(gen, role, resolution),
                 author=_author(role, requester, technician, source))
        for index, (role, offset) in enumerate(zip(roles, offsets, strict=True))]
    number, external_id = _ticket_number(gen, source, created_at)
    if source is not None and source["vendor"] == "halopsa":
        for message in thread:   # Halo numbers actions per ticket (vendors/halopsa_read.py)
            for ref in message["refs"]:
                ref["external_id"] = action_ref(external_id, ref["external_id"])
    closed_at = thread[-1]["created_at"] if status in ("resolved", "closed") else None
    ticket = {
        "_id": ticket_id, "uuid": gen.new_uuid(), "number": number, "customer_id": customer_id,
        "source_id": source["_id"] if source else None, "origin": "portal" if portal else "psa",
        "subject": subject, "description": description, "status": status,
        "priority": priority, "requester": {"name": requester["name"], "email": requester["email"]},
        "assignee": assignee, "created_at": created_at, "updated_at": thread[-1]["created_at"],
        "closed_at": closed_at, "message_count": len(thread),
        "refs": gen.refs(source, "ticket", external_id) if source else [],
    }
    return ticket, thread


def _topic(gen: Generation, fillers: dict[str, list[str]]) -> tuple[str, str, str, str]:
    subject, description, priority, resolution = gen.pick(words.TICKET_TOPICS)
    values = {key: gen.pick(options) for key, options in fillers.items()}
    values["person"] = f"{gen.pick(words.FIRST_NAMES)} {gen.pick(words.LAST_NAMES)}"
    if gen.chance(0.25):  # the customer's sense of urgency is not the topic's
        priority = PRIORITIES[max(0, min(3, PRIORITIES.index(priority) + gen.pick((-1, 1))))]
    return (subject.format(**values), description.format(**values), priority,
            resolution.format(**values))


def _finished_share(age: int) -> float:
    for younger_than, share in _FINISHED_SHARE:
        if younger_than is None or age < younger_than:
            return share
    raise AssertionError("unreachable")


def _open_status(gen: Generation, age: int) -> str:
    if age < 2 * DAY and gen.chance(0.45):
        return "new"
    return gen.rng.choices(OPEN_STATUSES, (8, 35, 35, 22))[0]


def _assignee(gen: Generation, status: str) -> dict | None:
    if not gen.chance(0.4 if status == "new" else 0.92):
        return None
    admin, technician = gen.operators
    return gen.operator_author(technician if gen.chance(0.65) else admin)


def _thread_timeline(gen: Generation, status: str, age: int) -> tuple[list[str], list[int], str]:
    """Who speaks, when (seconds after creation), and the final status: a resolved ticket
    left alone for three days is closed by the PSA."""
    roles = ["requester"]
    if status == "new":
        if gen.chance(0.2):
            roles.append("requester")  # "any news on this?"
    else:
        roles.append("technician")
        for _ in range(gen.rng.randint(0, 3)):
            roles += ["requester", "technician"]
        if status in ("open", "in_progress") and gen.chance(0.5):
            roles.append("requester")
        if gen.chance(0.3):
            roles.insert(gen.rng.randint(1, len(roles)), "internal")
        if status == "resolved":
            roles.append("resolution")
    span = max(len(roles), int(min(age, 10 * DAY) * gen.rng.random()))
    middle = sorted(gen.rng.sample(range(1, span), len(roles) - 2)) if len(roles) > 2 else []
    offsets = [0] + middle + [span] if len(roles) > 1 else [0]
    if status == "resolved" and span + _AUTO_CLOSE_AFTER < age:
        status = "closed"
        if gen.chance(0.7):
            roles.append("system")
            offsets.append(span + _AUTO_CLOSE_AFTER)
        # otherwise the technician closed it with the resolution
    return roles, offsets, status


def _body(gen: Generation, role: str, resolution: str) -> str:
    if role == "requester":
        return gen.pick(words.REQUESTER_REPLIES)
    if role == "technician":
        return gen.pick(words.TECHNICIAN_REPLIES)
    if role == "internal":
        return gen.pick(words.INTERNAL_NOTES)
    if role == "resolution":
        return resolution
    return "Ticket closed automatically three days after it was resolved."


def _author(role: str, requester: dict, technician: dict, source: dict | None) -> dict:
    if role == "requester":
        return {"kind": "contact", "name": requester["name"], "email": requester["email"]}
    if role == "system":
        name = words.VENDOR_NAMES[source["vendor"]] if source else "Vectis portal"
        return {"kind": "system", "name": name, "email": None}
    return {"kind": "user", "name": technician["name"], "email": technician["email"]}


def _message(gen: Generation, ticket_id: str, source: dict | None, role: str,
             created_at: datetime, *, body: str, author: dict) -> dict:
    return {
        "_id": gen.new_id("msg"), "ticket_id": ticket_id, "author": author, "body": body,
        "is_internal": role == "internal", "created_at": created_at,
        "refs": gen.refs(source, "ticket_note") if source else [],
    }


def _ticket_number(gen: Generation, source: dict | None, created_at: datetime) -> tuple[str, str]:
    """(number shown to people, vendor id) in the style of the ticket's PSA."""
    if source is None:
        gen.portal_tickets += 1
        return f"PTL-{gen.portal_tickets}", ""
    external_id = gen.next_number(source, "ticket")
    if source["vendor"] != "autotask":
        return str(external_id), str(external_id)
    day = f"{created_at:%Y%m%d}"
    sequence = gen.autotask_daily.get(day, 0) + 1
    gen.autotask_daily[day] = sequence
    return f"T{day}.{sequence:04d}", str(external_id)


def make_notes(gen: Generation, customer_id: str, *, active: bool, since: datetime,
               contacts: list[dict], tickets: list[dict], alerts: list[dict],
               assets: list[dict]) -> list[dict]:
    """Operator notes, most about one of the customer's tickets, alerts or devices."""
    pools = {"ticket": tickets, "alert": alerts, "asset": assets}
    contact = contacts[0]["name"].split()[0]
    customer_age = int((gen.now - since).total_seconds())
    notes = []
    for _ in range(gen.rng.randint(0, 4) if active else gen.rng.randint(0, 1)):
        kind = gen.rng.choices(("ticket", "alert", "asset", None), (50, 20, 15, 15))[0]
        target = gen.pick(pools[kind]) if kind and pools[kind] else None
        if target is None:
            kind, created_at = None, gen.ago(600, min(90 * DAY, customer_age))
        else:
            created_at = gen.after(target["created_at"], 600, 20 * DAY)
        body = gen.pick(words.NOTE_TEMPLATES[kind]).format(
            contact=contact, subject=(target or {}).get("subject"),
            title=(target or {}).get("title"), name=(target or {}).get("name"))
        notes.append({
            "_id": gen.new_id("not"), "customer_id": customer_id,
            "author": gen.operator_author(gen.pick(gen.operators)), "body": body,
            "related": {"kind": kind, "id": target["_id"]} if target else None,
            "created_at": created_at,
        })
    return notes
