"""Life in the demo's vendor tools: now and then a technician opens a ticket in a demo PSA, and
an RMM alert clears on its own, so the next sync brings visible changes (new tickets, resolved
alerts, and the events the rules engine reacts to)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from ..vendors.base import TicketDraft
from ..vendors.errors import NotConfigured, VendorError

log = logging.getLogger("vectis.demo")
SUBJECTS = ("Outlook keeps asking for the password", "Printer on the 2nd floor is offline",
            "VPN drops every few minutes", "New starter needs a laptop on Monday",
            "Shared drive is very slow", "MFA: new phone for the CFO", "Wi-Fi down in the warehouse")


class DemoActivity:
    def __init__(self, storage, connections, fleet, *, interval: float = 90.0, seed: int | None = None):
        self._storage = storage
        self._connections = connections
        self._fleet = fleet
        self._interval = interval
        self._rng = random.Random(seed)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.step()
            except Exception:  # the demo must never take the server down
                log.warning("demo activity step failed", exc_info=True)

    async def step(self) -> list[str]:
        """One round of vendor-side changes; returns what happened (for logs and tests)."""
        done = []
        for item in self._fleet.summary:
            if item["kind"] == "psa":
                done += await self._new_ticket(item)
            elif item["vendor"] in ("ninjaone", "ncentral"):
                done += self._clear_alert(item)
        return done

    async def _new_ticket(self, item: dict) -> list[str]:
        slug, source_id = item["tenant"], item["source_id"]
        customers = await self._storage.sync.source_external_ids(slug, "customers", source_id)
        if not customers:
            return []
        company = self._rng.choice(sorted(customers))
        try:
            _, connector = await self._connections.connector(slug, source_id)
            made = await connector.perform("create_ticket", TicketDraft(
                company_ref=company, subject=self._rng.choice(SUBJECTS),
                description="Opened directly in the PSA (demo activity).",
                priority=self._rng.choice(("low", "medium", "high"))))
        except (NotConfigured, VendorError) as exc:
            log.info("demo ticket not created: %s", exc)
            return []
        return [f"{slug}: ticket {made.number or made.external_id} opened in {item['vendor']}"]

    def _clear_alert(self, item: dict) -> list[str]:
        simulator = self._fleet.simulator(item["tenant"], item["source_id"])
        if item["vendor"] == "ninjaone" and simulator.alerts:
            uid = self._rng.choice(sorted(simulator.alerts))
            simulator.clear_alert(uid)
            return [f"{item['tenant']}: NinjaOne alert {uid} cleared"]
        if item["vendor"] == "ncentral" and simulator.issues:
            issue = self._rng.choice(simulator.issues)
            simulator.clear_issue(issue["taskId"])
            return [f"{item['tenant']}: N-central issue {issue['taskId']} cleared"]
        return []
