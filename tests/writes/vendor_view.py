"""Reading a PSA simulator's state the way its vendor would show it, so tests can check what a
write tool really did on the vendor side (not just what Vectis says it did)."""
from __future__ import annotations

from vectis.simulators.fleet import ROOT_PATH

CREATE_ROUTE = {"connectwise": ("POST", "/service/tickets"), "autotask": ("POST", "/Tickets"),
                "halopsa": ("POST", "/api/Tickets"), "atera": ("POST", "/tickets")}


def creates(sim, vendor: str) -> int:
    """How many ticket-create requests reached the vendor."""
    method, path = CREATE_ROUTE[vendor]
    root = "" if vendor == "halopsa" else ROOT_PATH[vendor]
    return sim.count(method, root + path)


def ticket(sim, vendor: str, external_id: str) -> dict:
    """{subject, closed} of a vendor ticket."""
    key = int(external_id)
    doc = sim.tickets[key]
    if vendor == "connectwise":
        return {"subject": doc["summary"], "closed": bool(doc.get("closedFlag"))}
    if vendor == "autotask":
        return {"subject": doc["title"], "closed": doc["status"] == 5}
    if vendor == "halopsa":
        return {"subject": doc["summary"], "closed": doc.get("status_id") in sim.closed_ids}
    return {"subject": doc["TicketTitle"], "closed": doc["TicketStatus"] == "Closed"}


def notes(sim, vendor: str, external_id: str) -> list[tuple[str, bool]]:
    """(text, internal) of every note on a vendor ticket, oldest first."""
    key = int(external_id)
    if vendor == "connectwise":
        return [(n["text"], bool(n.get("internalAnalysisFlag"))) for n in sim.notes.get(key, [])]
    if vendor == "autotask":
        return [(n["description"], n["publish"] != 1) for n in sim.notes.values()
                if int(n["ticketID"]) == key]
    if vendor == "halopsa":
        return [(a.get("note") or "", bool(a.get("hiddenfromuser"))) for a in sim.actions.get(key, [])]
    return [(c["Comment"], bool(c.get("IsInternal"))) for c in sim.comments.get(key, [])]
