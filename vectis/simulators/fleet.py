"""A fleet of vendor simulators standing in for the tenants' real tools: one simulator per source,
seeded with that source's canonical documents (`seeding`) and connected to it, so connectors,
write tools and sync reach a vendor that knows the tenant's tickets, alerts and devices.

Simulators only listen on loopback. Each is seeded before it starts, so no request ever sees a
half-seeded vendor.
"""
from __future__ import annotations

import importlib

from ..vendors.atera import simulator as atera
from ..vendors.autotask import simulator as autotask
from ..vendors.connectwise import simulator as connectwise
from ..vendors.registry import VENDORS
from ..vendors.simkit import Simulator
from .seeding import load_source_docs, seed_from_tenant

# Vendor -> the path of its API root on its simulator: what a connector's `base_url` appends to
# the simulator's origin (the connector tests build it the same way). The others' connectors take
# the origin itself: HaloPSA and NinjaOne the instance root (their token URLs sit beside the API),
# N-central the server root.
ROOT_PATH = {"connectwise": connectwise.ROOT, "autotask": autotask.ROOT, "atera": atera.ROOT,
             "halopsa": "", "ninjaone": "", "ncentral": "", "datto_bcdr": "/v1", "kaseya_vsax": "/api/v3"}


def simulator_class(vendor: str) -> type[Simulator]:
    """Each vendor's `simulator` module exposes its class as `SIMULATOR` (like the connectors' registry)."""
    if vendor not in VENDORS:
        raise KeyError(f"unknown vendor {vendor!r}")
    return importlib.import_module(f"vectis.vendors.{vendor}.simulator").SIMULATOR


class SimulatorFleet:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._running: dict[tuple[str, str], Simulator] = {}   # (slug, source id) -> simulator
        self.summary: list[dict] = []
        self.activity = None          # the demo's DemoActivity, when the server runs one

    async def start_for_tenants(self, storage, connections, slugs) -> list[dict]:
        """Start, seed and connect one simulator for every source of each tenant; returns one
        summary per source. Disabled sources are left alone: connecting would re-enable them."""
        summary = []
        for slug in slugs:
            for source in await storage.sources.list(slug):
                if source.get("status") != "disabled":
                    summary.append(await self._start_source(storage, connections, slug, source))
        self.summary += summary
        return summary

    async def _start_source(self, storage, connections, slug: str, source: dict) -> dict:
        key, vendor = (slug, source["_id"]), source["vendor"]
        if key in self._running:
            raise ValueError(f"a simulator already runs for {slug}/{source['_id']}")
        simulator = simulator_class(vendor)()
        counts = seed_from_tenant(simulator, vendor, await load_source_docs(storage, slug, source["_id"]))
        origin = await simulator.start(self.host, 0)
        self._running[key] = simulator            # registered first, so stop() cleans up after errors
        base_url = origin + ROOT_PATH[vendor]
        connected = await connections.connect(slug, source["_id"], base_url, simulator.credentials)
        return {"tenant": slug, "source_id": source["_id"], "vendor": vendor, "kind": source.get("kind"),
                "base_url": base_url, "connected": connected, "counts": counts}

    def simulator(self, slug: str, source_id: str) -> Simulator:
        """The running simulator of a source (tests count its calls and inject faults)."""
        return self._running[(slug, source_id)]

    def running(self) -> dict[tuple[str, str], Simulator]:
        return dict(self._running)

    async def stop(self) -> None:
        if self.activity is not None:
            await self.activity.stop()
        running, self._running = list(self._running.values()), {}
        for simulator in running:
            await simulator.stop()
